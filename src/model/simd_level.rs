//! Which vector instructions the kernels may use, decided once per process: the fused kernels
//! ([`super::fast_ops`]), the few-rows products ([`super::few_rows`]) and gemm's own dispatch
//! all pick their code by it.
//!
//! `MASKSCOPE_SIMD_LEVEL=1` (AVX2 + FMA) or `=0` (the portable baseline) caps the level below
//! what the CPU has, so that one machine can run the paths of narrower CPUs: the lesson claim
//! tests do, since float results (and so chaotic training curves) differ between paths. The
//! variable is read in one place, [`gemm_common::max_simd_level`] (vendor/gemm-common), because
//! gemm's kernel choice must follow the same cap.

/// 2 = x86-64-v4 (AVX-512), 1 = x86-64-v3 (AVX2 + FMA), 0 = the baseline the crate is built for.
#[cfg(target_arch = "x86_64")]
pub fn simd_level() -> u8 {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<u8> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let v3 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
        let v4 = v3
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl");
        let detected = if v4 { 2 } else { u8::from(v3) };
        detected.min(gemm_common::max_simd_level())
    })
}

/// The kernel path this process runs, for `--version`, bug reports and test names.
pub fn kernel_path() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    return match simd_level() {
        2 => "x86-64 AVX-512",
        1 => "x86-64 AVX2+FMA",
        _ => "x86-64 portable",
    };
    #[cfg(target_arch = "aarch64")]
    return "aarch64 NEON";
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    "portable"
}

/// The `MASKSCOPE_SIMD_LEVEL` values that put this process's kernels on the path of a
/// narrower CPU than this one (empty where the path cannot be chosen).
pub fn narrower_levels() -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    return (0..simd_level()).collect();
    #[cfg(not(target_arch = "x86_64"))]
    vec![]
}
