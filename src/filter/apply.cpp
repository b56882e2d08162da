// Applying SOS filters: streaming SosFilter, one-shot sosfilt, zero-phase sosfiltfilt.
//
// Every path runs the same Direct-Form-II-transposed recursion as SciPy's
// _sosfilt, with state and arithmetic in double, so results agree with SciPy to
// rounding and chunked streaming reproduces one-shot filtering bit for bit.

#include <fasctrack/filter/apply.hpp>

#include "filter/sos_kernel.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>
#include <string>

namespace fasctrack::filter {

namespace {

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

std::string shape(Index rows, Index cols) { return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")"; }

// The DF2T recursion assumes a0 == 1 (SciPy requires it); scaling a section by
// 1/a0 leaves its transfer function unchanged, so accept any non-zero a0.
Sos normalised(Sos sos) {
  validate_sos(sos);
  for (Index s = 0; s < sos.rows(); ++s) {
    const double a0 = sos(s, 3);
    if (a0 != 1.0) {
      sos.row(s) /= a0;
      sos(s, 3) = 1.0;
    }
  }
  return sos;
}

}  // namespace

namespace detail {

namespace {

// Per lane this is the Direct-Form-II-transposed recursion of SciPy's
// _sosfilt: two state words per section, the best round-off of the direct
// forms for poles near the unit circle, and SciPy's expression order, so each
// lane matches scipy.signal.sosfilt to the last bit where the same operations
// are emitted (no contraction into FMA). GCC/Clang vector extensions make the
// W lanes one value that the compiler keeps in registers (2 zmm for W = 16 on
// AVX-512, split into narrower registers on AVX2 and SSE2); the arithmetic is
// element-wise IEEE, the same operations as the scalar loop.
// (A member typedef: GCC drops the attribute on an alias template.)
template <int W>
struct LanesOf {
  typedef double type __attribute__((vector_size(W * sizeof(double))));
  static_assert(sizeof(type) == W * sizeof(double));
};
template <int W>
using Lanes = typename LanesOf<W>::type;

// Everything below is force-inlined into the multiversioned entry points: a
// helper left out of line would be compiled for the baseline target only.
#define FASCTRACK_INLINE [[gnu::always_inline]] inline

// (Loads through a reference: a vector returned by value draws GCC's
// -Wpsabi note about the ABI of targets without AVX.)
template <int W>
FASCTRACK_INLINE void load_lanes(Lanes<W>& v, const double* p) {
  std::memcpy(&v, p, sizeof v);
}

template <int W>
FASCTRACK_INLINE void store_lanes(double* p, const Lanes<W>& v) {
  std::memcpy(p, &v, sizeof v);
}

// G consecutive sections over n samples of W lanes. Sample-major over the
// whole cascade, the state of every section would be stored and reloaded at
// every sample, so each step of the recursion would wait on store-to-load
// forwarding; a group's 2 x G state words stay in registers for the whole
// block instead, and only the block (in L1) goes through memory, once per
// group. The lanes go U at a time (one AVX-512 register), so that state,
// coefficients and temporaries fit the register file. Sections still see
// their inputs in sample order, so each section performs exactly the
// operations of the sample-major loop: the output is bit-identical.
template <int W, int U, int G>
FASCTRACK_INLINE void cascade_group(const double* c, double* z, double* p, Index n, std::ptrdiff_t stride) {
  using V = Lanes<U>;
  double b0[G], b1[G], b2[G], a1[G], a2[G];
  for (int g = 0; g < G; ++g) {
    b0[g] = c[6 * g];
    b1[g] = c[6 * g + 1];
    b2[g] = c[6 * g + 2];
    a1[g] = c[6 * g + 4];
    a2[g] = c[6 * g + 5];
  }
  for (int j = 0; j < W; j += U) {
    V z0[G], z1[G];
    for (int g = 0; g < G; ++g) {
      load_lanes<U>(z0[g], z + (2 * g) * W + j);
      load_lanes<U>(z1[g], z + (2 * g + 1) * W + j);
    }
    double* q = p + j;
    for (Index i = 0; i < n; ++i, q += stride) {
      V x;
      load_lanes<U>(x, q);
      for (int g = 0; g < G; ++g) {
        const V y = b0[g] * x + z0[g];
        z0[g] = b1[g] * x - a1[g] * y + z1[g];
        z1[g] = b2[g] * x - a2[g] * y;
        x = y;
      }
      store_lanes<U>(q, x);
    }
    for (int g = 0; g < G; ++g) {
      store_lanes<U>(z + (2 * g) * W + j, z0[g]);
      store_lanes<U>(z + (2 * g + 1) * W + j, z1[g]);
    }
  }
}

// Sections per register-resident group and lanes per step, measured on Zen 4
// (AVX-512, 64 channels, the detector's 23 sections; causal M channel-samples/s,
// 125 before): G = 4, U = 8 gives 149; G = 3: 143, 2: 126, 6: 129, 8: 119
// (the state and coefficients no longer fit 32 registers); U = 16 with G = 2:
// 123. At G = 4 the loop is close to the multiplier throughput (5 products
// per section and sample, one 8-lane product per cycle on Zen 4).
inline constexpr int kGroup = 4;
inline constexpr int kUnit = 8;
// Samples per block of the section-group loop: 128 x 16 doubles = 16 KiB, so
// the block stays in L1 while every group of sections passes over it.
inline constexpr Index kBlock = 128;

template <int W, int U>
FASCTRACK_INLINE void cascade_lanes(const double* coeffs, Index n_sections, double* z, double* p, Index n,
                                    std::ptrdiff_t stride) {
  static_assert(kGroup == 4, "the remainder switch below covers 1 to 3 sections");
  for (Index i0 = 0; i0 < n; i0 += kBlock) {
    const Index len = std::min(kBlock, n - i0);
    double* q = p + i0 * stride;
    Index s = 0;
    for (; s + kGroup <= n_sections; s += kGroup)
      cascade_group<W, U, kGroup>(coeffs + 6 * s, z + 2 * s * W, q, len, stride);
    const double* c = coeffs + 6 * s;
    double* zs = z + 2 * s * W;
    switch (n_sections - s) {
      case 0: break;
      case 1: cascade_group<W, U, 1>(c, zs, q, len, stride); break;
      case 2: cascade_group<W, U, 2>(c, zs, q, len, stride); break;
      case 3: cascade_group<W, U, 3>(c, zs, q, len, stride); break;
    }
  }
}

// The sample-major cascade: for each sample, all sections, the state in
// memory. Per lane the same operations as cascade_group.
template <int W>
FASCTRACK_INLINE void cascade_sample_major(const double* coeffs, Index n_sections, double* z, double* p, Index n,
                                           std::ptrdiff_t stride) {
  for (Index i = 0; i < n; ++i, p += stride) {
    double x[W];
    for (int k = 0; k < W; ++k) x[k] = p[k];
    const double* c = coeffs;
    double* zs = z;
    for (Index s = 0; s < n_sections; ++s, c += 6, zs += 2 * W) {
      const double b0 = c[0], b1 = c[1], b2 = c[2], a1 = c[4], a2 = c[5];
      for (int k = 0; k < W; ++k) {
        const double y = b0 * x[k] + zs[k];
        zs[k] = b1 * x[k] - a1 * y + zs[W + k];
        zs[W + k] = b2 * x[k] - a2 * y;
        x[k] = y;
      }
    }
    for (int k = 0; k < W; ++k) p[k] = x[k];
  }
}

// Built for the baseline x86-64 (SSE2) and, where the toolchain supports
// function multiversioning, for AVX2 and AVX-512 too; the loader picks the
// widest the CPU has. No -march flag is needed (or assumed) for the library.
#if defined(__x86_64__) && defined(__ELF__) && !defined(FASCTRACK_NO_MULTIVERSION) && \
    (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define FASCTRACK_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif

// AVX2 has 16 vector registers of 4 doubles, too few for a group's state,
// coefficients and temporaries at 8 lanes per step: GCC splits the 8-lane
// vectors through memory and the blocked kernel ran at a third of the
// sample-major one (Zen 4 executing AVX2 code, 64 channels: 43 vs 140 M
// channel-samples/s; 4 lanes per step: 120). So the AVX2 build keeps the
// sample-major loop for 16 lanes, steps 4 lanes at a time for 8 (128 vs 117),
// and gathers tiles lane by lane (the 8-wide transposes: 117 vs 120). The
// resolver picks the AVX2 clone exactly when the CPU has AVX2 but not
// AVX-512F, which is what this tells the code inside the clones.
#ifdef FASCTRACK_CLONES
inline bool avx2_build() {
  // (__builtin_cpu_init: a filter run from a static constructor may come
  // before libgcc's own initialisation of the CPU model.)
  static const bool avx2_only = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && !__builtin_cpu_supports("avx512f");
  }();
  return avx2_only;
}
#else
#define FASCTRACK_CLONES
constexpr bool avx2_build() {
#if defined(__AVX2__) && !defined(__AVX512F__)
  return true;
#else
  return false;
#endif
}
#endif

FASCTRACK_CLONES void cascade4(const double* c, Index ns, double* z, double* p, Index n, std::ptrdiff_t d) {
  cascade_lanes<4, 4>(c, ns, z, p, n, d);
}
FASCTRACK_CLONES void cascade8(const double* c, Index ns, double* z, double* p, Index n, std::ptrdiff_t d) {
  if (avx2_build())
    cascade_lanes<8, 4>(c, ns, z, p, n, d);
  else
    cascade_lanes<8, kUnit>(c, ns, z, p, n, d);
}
FASCTRACK_CLONES void cascade16(const double* c, Index ns, double* z, double* p, Index n, std::ptrdiff_t d) {
  if (avx2_build())
    cascade_sample_major<16>(c, ns, z, p, n, d);
  else
    cascade_lanes<16, kUnit>(c, ns, z, p, n, d);
}

// ---- channel rows <-> interleaved tile ----
// Gathering a tile lane by lane stores one double per instruction, 128 bytes
// apart: about a seventh of the causal filter's time for 64 float32 channels.
// Eight rows x eight samples go through registers instead: eight vector
// loads, an 8 x 8 transpose (three rounds of two-source shuffles) and eight
// vector stores. Only data moves, and float32 <-> double converts exactly as
// the scalar casts do (widening is exact; narrowing rounds to nearest in both).
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector) && __has_builtin(__builtin_convertvector)
#define FASCTRACK_TILE_TRANSPOSE 1
#endif
#endif

#ifdef FASCTRACK_TILE_TRANSPOSE
template <class T>
struct RowLanesOf {
  typedef T type __attribute__((vector_size(8 * sizeof(T))));
};

FASCTRACK_INLINE void transpose8(Lanes<8>* r) {
  Lanes<8> t[8], u[8];
  for (int p = 0; p < 8; p += 2) {
    t[p] = __builtin_shufflevector(r[p], r[p + 1], 0, 8, 2, 10, 4, 12, 6, 14);
    t[p + 1] = __builtin_shufflevector(r[p], r[p + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  }
  for (int p = 0; p < 8; p += 4)
    for (int q = 0; q < 2; ++q) {
      u[p + q] = __builtin_shufflevector(t[p + q], t[p + q + 2], 0, 1, 8, 9, 4, 5, 12, 13);
      u[p + q + 2] = __builtin_shufflevector(t[p + q], t[p + q + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    }
  for (int q = 0; q < 4; ++q) {
    r[q] = __builtin_shufflevector(u[q], u[q + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    r[q + 4] = __builtin_shufflevector(u[q], u[q + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}

// tile[i * W + k] = rows[k][i] for k < W (W a multiple of 8), i < len.
template <class T, int W>
FASCTRACK_INLINE void rows_to_tile(const T* const* rows, Index len, double* tile) {
  using R = typename RowLanesOf<T>::type;
  Index i = 0;
  for (; i + 8 <= len; i += 8)
    for (int k0 = 0; k0 < W; k0 += 8) {
      Lanes<8> r[8];
      for (int k = 0; k < 8; ++k) {
        R v;
        std::memcpy(&v, rows[k0 + k] + i, sizeof v);
        r[k] = __builtin_convertvector(v, Lanes<8>);
      }
      transpose8(r);
      for (int j = 0; j < 8; ++j) store_lanes<8>(tile + (i + j) * W + k0, r[j]);
    }
  for (; i < len; ++i)
    for (int k = 0; k < W; ++k) tile[i * W + k] = static_cast<double>(rows[k][i]);
}

// rows[k][i] = tile[i * W + k], the inverse.
template <class T, int W>
FASCTRACK_INLINE void tile_to_rows(const double* tile, Index len, T* const* rows) {
  using R = typename RowLanesOf<T>::type;
  Index i = 0;
  for (; i + 8 <= len; i += 8)
    for (int k0 = 0; k0 < W; k0 += 8) {
      Lanes<8> r[8];
      for (int j = 0; j < 8; ++j) load_lanes<8>(r[j], tile + (i + j) * W + k0);
      transpose8(r);
      for (int k = 0; k < 8; ++k) {
        const R v = __builtin_convertvector(r[k], R);
        std::memcpy(rows[k0 + k] + i, &v, sizeof v);
      }
    }
  for (; i < len; ++i)
    for (int k = 0; k < W; ++k) rows[k][i] = static_cast<T>(tile[i * W + k]);
}

FASCTRACK_CLONES void rows_to_tile8f(const float* const* rows, Index len, double* tile) {
  rows_to_tile<float, 8>(rows, len, tile);
}
FASCTRACK_CLONES void rows_to_tile16f(const float* const* rows, Index len, double* tile) {
  rows_to_tile<float, 16>(rows, len, tile);
}
FASCTRACK_CLONES void rows_to_tile8d(const double* const* rows, Index len, double* tile) {
  rows_to_tile<double, 8>(rows, len, tile);
}
FASCTRACK_CLONES void rows_to_tile16d(const double* const* rows, Index len, double* tile) {
  rows_to_tile<double, 16>(rows, len, tile);
}
FASCTRACK_CLONES void tile_to_rows8f(const double* tile, Index len, float* const* rows) {
  tile_to_rows<float, 8>(tile, len, rows);
}
FASCTRACK_CLONES void tile_to_rows16f(const double* tile, Index len, float* const* rows) {
  tile_to_rows<float, 16>(tile, len, rows);
}
FASCTRACK_CLONES void tile_to_rows8d(const double* tile, Index len, double* const* rows) {
  tile_to_rows<double, 8>(tile, len, rows);
}
FASCTRACK_CLONES void tile_to_rows16d(const double* tile, Index len, double* const* rows) {
  tile_to_rows<double, 16>(tile, len, rows);
}
#endif

}  // namespace

namespace {

// tile[i * lanes + k] = rows[k][i] for all lanes (every lane a channel),
// i < len. False (nothing done) where there is no vector path.
template <class T>
bool gather_tile(const T* const* rows, Index lanes, Index len, double* tile) {
#ifdef FASCTRACK_TILE_TRANSPOSE
  if (avx2_build()) return false;
  if constexpr (std::is_same_v<T, float>) {
    if (lanes == 16) return rows_to_tile16f(rows, len, tile), true;
    if (lanes == 8) return rows_to_tile8f(rows, len, tile), true;
  } else {
    if (lanes == 16) return rows_to_tile16d(rows, len, tile), true;
    if (lanes == 8) return rows_to_tile8d(rows, len, tile), true;
  }
#endif
  (void)rows, (void)lanes, (void)len, (void)tile;
  return false;
}

// rows[k][i] = tile[i * lanes + k], the inverse.
template <class T>
bool scatter_tile(const double* tile, Index lanes, Index len, T* const* rows) {
#ifdef FASCTRACK_TILE_TRANSPOSE
  if (avx2_build()) return false;
  if constexpr (std::is_same_v<T, float>) {
    if (lanes == 16) return tile_to_rows16f(tile, len, rows), true;
    if (lanes == 8) return tile_to_rows8f(tile, len, rows), true;
  } else {
    if (lanes == 16) return tile_to_rows16d(tile, len, rows), true;
    if (lanes == 8) return tile_to_rows8d(tile, len, rows), true;
  }
#endif
  (void)rows, (void)lanes, (void)len, (void)tile;
  return false;
}

}  // namespace

void cascade_interleaved(const double* coeffs, Index n_sections, double* z, double* x, Index n, Index lanes,
                         Index step) {
  if (n <= 0) return;
  double* p = step > 0 ? x : x + (n - 1) * lanes;
  const std::ptrdiff_t stride = step > 0 ? lanes : -lanes;
  switch (lanes) {
    case 4: cascade4(coeffs, n_sections, z, p, n, stride); break;
    case 8: cascade8(coeffs, n_sections, z, p, n, stride); break;
    default: cascade16(coeffs, n_sections, z, p, n, stride); break;
  }
}

}  // namespace detail

namespace {
// Samples per tile of the interleaved scratch: 128 x 16 doubles = 16 KiB
// stays in L1 between the gather, the cascade and the scatter.
constexpr Index kTile = 128;
}  // namespace

template <class T>
SosFilter<T>::SosFilter(Sos sos, Index n_channels)
    : sos_(normalised(std::move(sos))), n_channels_(n_channels) {
  if (n_channels < 1) fail("n_channels: must be >= 1, got " + std::to_string(n_channels));
  state_ = State::Zero(sos_.rows(), 2 * n_channels_);
  work_.assign(static_cast<std::size_t>((2 * sos_.rows() + kTile) * detail::kLanesMax), 0.0);
}

template <class T>
void SosFilter<T>::process(SignalView<T> in, SignalSpan<T> out) {
  if (in.rows() != n_channels_) {
    fail("in: expected " + std::to_string(n_channels_) + " channel(s), got shape " + shape(in.rows(), in.cols()));
  }
  if (out.rows() != in.rows() || out.cols() != in.cols()) {
    fail("out: shape " + shape(out.rows(), out.cols()) + " does not match in " + shape(in.rows(), in.cols()));
  }
  const double* coeffs = sos_.data();
  const Index n_sections = sos_.rows();
  const Index n = in.cols();
  if (n == 0) return;
  // Channels in blocks of W lanes, time in tiles: each tile is gathered into
  // an interleaved double scratch (the value passed from section to section
  // stays double, as in the one-channel loop), filtered, and scattered back.
  // A tile is read whole before it is written, so in and out may alias.
  double* z = work_.data();
  double* tile = z + 2 * n_sections * detail::kLanesMax;
  for (Index c0 = 0; c0 < n_channels_; ) {
    const Index W = detail::lanes_for(n_channels_ - c0);
    const Index m = std::min(W, n_channels_ - c0);
    for (Index s = 0; s < n_sections; ++s) {
      for (Index k = 0; k < W; ++k) {
        z[(2 * s) * W + k] = k < m ? state_(s, 2 * (c0 + k)) : 0.0;
        z[(2 * s + 1) * W + k] = k < m ? state_(s, 2 * (c0 + k) + 1) : 0.0;
      }
    }
    const T* src[detail::kLanesMax];
    T* dst[detail::kLanesMax];
    for (Index i0 = 0; i0 < n; i0 += kTile) {
      const Index len = std::min(kTile, n - i0);
      for (Index k = 0; k < m; ++k) {
        src[k] = in.row(c0 + k).data() + i0;
        dst[k] = out.row(c0 + k).data() + i0;
      }
      if (m < W || !detail::gather_tile<T>(src, W, len, tile)) {
        for (Index k = 0; k < m; ++k)
          for (Index i = 0; i < len; ++i) tile[i * W + k] = static_cast<double>(src[k][i]);
        for (Index k = m; k < W; ++k)
          for (Index i = 0; i < len; ++i) tile[i * W + k] = 0.0;
      }
      detail::cascade_interleaved(coeffs, n_sections, z, tile, len, W);
      if (m < W || !detail::scatter_tile<T>(tile, W, len, dst)) {
        for (Index k = 0; k < m; ++k)
          for (Index i = 0; i < len; ++i) dst[k][i] = static_cast<T>(tile[i * W + k]);
      }
    }
    for (Index s = 0; s < n_sections; ++s) {
      for (Index k = 0; k < m; ++k) {
        state_(s, 2 * (c0 + k)) = z[(2 * s) * W + k];
        state_(s, 2 * (c0 + k) + 1) = z[(2 * s + 1) * W + k];
      }
    }
    c0 += m;
  }
}

template <class T>
void SosFilter<T>::reset() {
  state_.setZero();
}

template <class T>
void SosFilter<T>::set_steady_state(const Eigen::VectorXd& x0) {
  if (x0.size() != n_channels_) {
    fail("x0: expected one value per channel (" + std::to_string(n_channels_) + "), got " +
         std::to_string(x0.size()));
  }
  const auto zi = sosfilt_zi(sos_);
  for (Index s = 0; s < sos_.rows(); ++s) {
    for (Index c = 0; c < n_channels_; ++c) {
      state_(s, 2 * c) = zi(s, 0) * x0[c];
      state_(s, 2 * c + 1) = zi(s, 1) * x0[c];
    }
  }
}

template <class T>
void SosFilter<T>::set_state(const State& zi) {
  if (zi.rows() != state_.rows() || zi.cols() != state_.cols()) {
    fail("zi: expected shape " + shape(state_.rows(), state_.cols()) + " = (n_sections, 2 * n_channels), got " +
         shape(zi.rows(), zi.cols()));
  }
  state_ = zi;
}

template class SosFilter<float>;
template class SosFilter<double>;

template <class T>
RowMatrix<T> sosfilt(const Sos& sos, SignalView<T> x, RowMatrix<double>* zi) {
  validate_sos(sos);
  RowMatrix<T> y(x.rows(), x.cols());
  if (x.rows() == 0) {
    if (zi != nullptr && (zi->rows() != sos.rows() || zi->cols() != 0)) {
      fail("zi: expected shape " + shape(sos.rows(), 0) + " = (n_sections, 2 * n_channels), got " +
           shape(zi->rows(), zi->cols()));
    }
    return y;
  }
  SosFilter<T> filter(sos, x.rows());
  if (zi != nullptr) filter.set_state(*zi);
  filter.process(x, y);
  if (zi != nullptr) *zi = filter.state();
  return y;
}

template RowMatrix<float> sosfilt<float>(const Sos&, SignalView<float>, RowMatrix<double>*);
template RowMatrix<double> sosfilt<double>(const Sos&, SignalView<double>, RowMatrix<double>*);

Index sosfiltfilt_default_padlen(const Sos& sos) {
  validate_sos(sos);
  const Index n_sections = sos.rows();
  const Index b2_zero = (sos.col(2).array() == 0.0).count();
  const Index a2_zero = (sos.col(5).array() == 0.0).count();
  return 3 * (2 * n_sections + 1 - std::min(b2_zero, a2_zero));
}

template <class T>
RowMatrix<T> sosfiltfilt(const Sos& sos, SignalView<T> x, std::optional<Index> padlen) {
  const Sos s = normalised(sos);
  const Index edge = padlen ? *padlen : sosfiltfilt_default_padlen(s);
  if (edge < 0) fail("padlen: must be >= 0, got " + std::to_string(edge));
  const Index n = x.cols();
  if (n <= edge) {
    fail("padlen: the signal has " + std::to_string(n) + " samples, which must be more than padlen = " +
         std::to_string(edge));
  }
  const Index n_ext = n + 2 * edge;
  const auto zi = sosfilt_zi(s);
  const Index n_sections = s.rows();
  RowMatrix<T> y(x.rows(), n);
  if (x.rows() == 0) return y;
  // W channels side by side (see sos_kernel.hpp), the whole extended signal
  // interleaved: the backward pass needs the forward pass's last sample first.
  const Index lanes = detail::lanes_for(x.rows());
  std::vector<double> ext(static_cast<std::size_t>(n_ext * lanes));
  std::vector<double> z(static_cast<std::size_t>(2 * n_sections * lanes));
  for (Index c0 = 0; c0 < x.rows();) {
    const Index W = detail::lanes_for(x.rows() - c0);
    const Index m = std::min(W, x.rows() - c0);
    double* e = ext.data();
    for (Index k = 0; k < W; ++k) {
      if (k >= m) {
        for (Index i = 0; i < n_ext; ++i) e[i * W + k] = 0.0;
        continue;
      }
      // Odd extension (scipy's odd_ext): reflect about the end samples so the
      // padded signal continues with the same value and slope, which keeps the
      // start-up transient of each pass small.
      const T* r = x.row(c0 + k).data();
      const double first = static_cast<double>(r[0]);
      const double last = static_cast<double>(r[n - 1]);
      for (Index j = 0; j < edge; ++j) e[j * W + k] = 2.0 * first - static_cast<double>(r[edge - j]);
      for (Index j = 0; j < edge; ++j) e[(edge + n + j) * W + k] = 2.0 * last - static_cast<double>(r[n - 2 - j]);
    }
    // The signal itself tile by tile, so each cache line of the interleaved
    // buffer is written whole once rather than once per lane.
    const T* src[detail::kLanesMax];
    T* dst[detail::kLanesMax];
    for (Index i0 = 0; i0 < n; i0 += kTile) {
      const Index len = std::min(kTile, n - i0);
      for (Index k = 0; k < m; ++k) src[k] = x.row(c0 + k).data() + i0;
      if (m == W && detail::gather_tile<T>(src, W, len, e + (edge + i0) * W)) continue;
      for (Index k = 0; k < m; ++k) {
        double* d = e + (edge + i0) * W + k;
        for (Index i = 0; i < len; ++i) d[i * W] = static_cast<double>(src[k][i]);
      }
    }
    // Each pass starts in the steady state for its first input sample, as if
    // that value had been applied forever: no step transient at the edges.
    auto steady = [&](Index at) {
      for (Index sec = 0; sec < n_sections; ++sec)
        for (Index k = 0; k < W; ++k) {
          z[static_cast<std::size_t>((2 * sec) * W + k)] = zi(sec, 0) * e[at * W + k];
          z[static_cast<std::size_t>((2 * sec + 1) * W + k)] = zi(sec, 1) * e[at * W + k];
        }
    };
    steady(0);
    detail::cascade_interleaved(s.data(), n_sections, z.data(), e, n_ext, W, 1);
    steady(n_ext - 1);
    detail::cascade_interleaved(s.data(), n_sections, z.data(), e, n_ext, W, -1);
    for (Index i0 = 0; i0 < n; i0 += kTile) {
      const Index len = std::min(kTile, n - i0);
      for (Index k = 0; k < m; ++k) dst[k] = y.row(c0 + k).data() + i0;
      if (m == W && detail::scatter_tile<T>(e + (edge + i0) * W, W, len, dst)) continue;
      for (Index k = 0; k < m; ++k) {
        const double* t = e + (edge + i0) * W + k;
        for (Index i = 0; i < len; ++i) dst[k][i] = static_cast<T>(t[i * W]);
      }
    }
    c0 += m;
  }
  return y;
}

template RowMatrix<float> sosfiltfilt<float>(const Sos&, SignalView<float>, std::optional<Index>);
template RowMatrix<double> sosfiltfilt<double>(const Sos&, SignalView<double>, std::optional<Index>);

}  // namespace fasctrack::filter
