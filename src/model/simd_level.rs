//! Which vector instructions this CPU has, detected once: the fused kernels
//! ([`super::fast_ops`]) and the few-rows products ([`super::few_rows`]) pick their code by it.

/// 2 = x86-64-v4 (AVX-512), 1 = x86-64-v3 (AVX2 + FMA), 0 = the baseline the crate is built for.
#[cfg(target_arch = "x86_64")]
pub(super) fn simd_level() -> u8 {
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
        // Tests can force the narrower paths: MASKSCOPE_SIMD_LEVEL=0 cargo test --lib ops
        #[cfg(test)]
        if let Some(cap) = std::env::var("MASKSCOPE_SIMD_LEVEL")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            return detected.min(cap);
        }
        detected
    })
}
