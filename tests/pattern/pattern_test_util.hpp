#pragma once
// Building SessionResults by hand, so the rules can be tested at their edges
// without signals.

#include <fasctrack/pattern/classify.hpp>

#include <algorithm>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace pattern_test {

using namespace fasctrack;
using namespace fasctrack::pattern;

struct M {
  std::string muscle;
  Index n_events = 0;
  double clean_rest_s = 90.0;
  BodyRegion region = BodyRegion::unknown;
  Side side = Side::unknown;
  bool usable = true;
};

// Muscles by convention in these tests: a_r and b_r cervical right, a_l
// cervical left, c_r lumbosacral right.
inline void place(M& m) {
  if (m.region != BodyRegion::unknown) return;
  if (m.muscle == "c_r" || m.muscle == "c_l") m.region = BodyRegion::lumbosacral;
  else m.region = BodyRegion::cervical;
  m.side = m.muscle.size() > 1 && m.muscle.back() == 'l' ? Side::left : Side::right;
}

inline SessionResult session(const std::string& id, const std::string& date, std::vector<M> muscles) {
  SessionResult s;
  s.id = id;
  s.date = date;
  s.day = parse_date(date);
  s.duration_s = 90.0;
  s.clean_rest_s = 0.0;
  for (auto& m : muscles) {
    place(m);
    MuscleObservation o;
    o.muscle = m.muscle;
    o.region = m.region;
    o.side = m.side;
    o.channels = {m.muscle + "_1", m.muscle + "_2"};
    o.usable = m.usable;
    o.n_events = m.n_events;
    o.clean_rest_s = m.clean_rest_s;
    o.n_isolated = m.n_events;
    o.rest_minutes = static_cast<int>(m.clean_rest_s / 60.0 + 0.5);
    o.minutes_with_fp = std::min<int>(o.rest_minutes, static_cast<int>(m.n_events));
    s.clean_rest_s = std::max(s.clean_rest_s, m.clean_rest_s);
    s.muscles.push_back(std::move(o));
  }
  return s;
}

/// Days after 2026-01-05 as an ISO date.
inline std::string day(int d) {
  static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y = 2026, m = 1, dd = 5 + d;
  while (dd > dim[m - 1]) {
    dd -= dim[m - 1];
    if (++m > 12) m = 1, ++y;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, dd);
  return buf;
}

inline const Reason* find_reason(const PatternReport& r, const std::string& criterion, const std::string& muscle = "") {
  for (const auto& x : r.reasons)
    if (x.criterion == criterion && (muscle.empty() || x.muscle == muscle)) return &x;
  return nullptr;
}

inline MuscleState state_of(const PatternReport& r, const std::string& session, const std::string& muscle) {
  for (const auto& m : r.muscles)
    if (m.session == session && m.muscle == muscle) return m.state;
  throw std::out_of_range("no row " + session + "/" + muscle);
}

inline double value_of(const Reason& r, const std::string& name) {
  for (const auto& q : r.values)
    if (q.name == name) return q.value;
  throw std::out_of_range("no value " + name);
}

}  // namespace pattern_test
