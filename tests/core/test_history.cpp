// ThinnedHistory: every value up to its capacity, then an evenly spaced
// sample by arrival order, in bounded memory.

#include <catch2/catch.hpp>

#include "core/history.hpp"

#include <cstdint>
#include <random>
#include <vector>

using fasctrack::detail::ThinnedHistory;

TEST_CASE("ThinnedHistory keeps every value up to its capacity", "[history]") {
  ThinnedHistory h(8);
  for (int i = 0; i < 7; ++i) h.push(10.0 + i);
  CHECK(h.stride() == 1);
  CHECK(h.values() == std::vector<double>{10, 11, 12, 13, 14, 15, 16});
}

TEST_CASE("ThinnedHistory thins by arrival order and stays within its capacity", "[history]") {
  const std::size_t cap = 16;
  ThinnedHistory h(cap);
  std::mt19937 rng(5);
  std::normal_distribution<double> N(0.0, 1.0);
  std::vector<double> all;
  for (int i = 0; i < 1000; ++i) {
    all.push_back(N(rng));
    h.push(all.back());
    REQUIRE(h.values().size() < cap);
    // The kept values are exactly the arrivals at multiples of the stride.
    const auto s = h.stride();
    std::vector<double> expected;
    for (std::size_t j = 0; j < all.size(); j += s) expected.push_back(all[j]);
    REQUIRE(h.values() == expected);
  }
  CHECK(h.pushed() == 1000);
  CHECK(h.stride() == 128);  // 1000 values into fewer than 16 slots
}

TEST_CASE("ThinnedHistory's choice does not depend on the values", "[history]") {
  ThinnedHistory a(32), b(32);
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> U(0.5, 2.0);
  for (int i = 0; i < 500; ++i) {
    const double v = U(rng);
    a.push(v);
    b.push(3.0 * v);
  }
  REQUIRE(a.values().size() == b.values().size());
  for (std::size_t j = 0; j < a.values().size(); ++j) CHECK(b.values()[j] == 3.0 * a.values()[j]);
}

TEST_CASE("ThinnedHistory rejects a capacity it cannot halve", "[history]") {
  CHECK_THROWS_AS(ThinnedHistory(0), std::invalid_argument);
  CHECK_THROWS_AS(ThinnedHistory(7), std::invalid_argument);
}
