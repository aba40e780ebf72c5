//! Ed25519 batch verification for a log, where a few keys sign many records.
//!
//! What this is: the same batch equation as `ed25519_dalek::verify_batch` (RFC 8032 §5.1.7's
//! cofactorless check, for many signatures at once, each weighted by a random 128-bit `zᵢ`):
//!
//! ```text
//!     −(Σ zᵢ·sᵢ)·B  +  Σ zᵢ·Rᵢ  +  Σ (zᵢ·kᵢ)·Aᵢ  =  identity,     kᵢ = SHA-512(Rᵢ ‖ Aᵢ ‖ Mᵢ) mod ℓ
//! ```
//!
//! computed with the terms of each distinct key `A` gathered into one, `(Σ_{i: Aᵢ = A} zᵢ·kᵢ)·A`.
//! That is the same sum, so the same signatures pass; but the multiscalar multiplication has
//! `n + keys + 1` terms instead of `2n + 1`, and a log has one key per rotation. Like dalek's, it
//! rejects a non-canonical `s` and an `R` that does not decompress, and it accepts the batch only if
//! the equation holds: with the `zᵢ` drawn fresh from the operating system's generator, a batch
//! holding an invalid signature passes with probability at most 2⁻¹²⁸ (or it fails, and the caller
//! checks each signature on its own, as `relic_ledger::verify` does).
//!
//! What this is not: a general-purpose signature API. It answers one question, "do all of these
//! verify?", and never says which one does not.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use rand::RngCore;
use sha2::{Digest, Sha512};

/// True if every `sigs[i]` is a valid signature of `msgs[i]` by `keys[i]` (same lengths required;
/// an empty batch is valid). False if any is not, or if the lengths differ.
pub fn verify_all(msgs: &[&[u8]], sigs: &[Signature], keys: &[VerifyingKey]) -> bool {
    if msgs.len() != sigs.len() || msgs.len() != keys.len() {
        return false;
    }
    if msgs.is_empty() {
        return true;
    }
    let mut rng = rand::rngs::OsRng;
    // Distinct keys, in order of first use, with their gathered coefficients.
    let mut distinct: Vec<(VerifyingKey, EdwardsPoint, Scalar)> = Vec::new();
    let mut b_coefficient = Scalar::ZERO;
    let mut scalars = Vec::with_capacity(msgs.len() + 4);
    let mut points = Vec::with_capacity(msgs.len() + 4);
    for ((msg, sig), key) in msgs.iter().zip(sigs).zip(keys) {
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*sig.s_bytes())) else { return false };
        let Some(r) = CompressedEdwardsY(*sig.r_bytes()).decompress() else { return false };
        let k = Scalar::from_bytes_mod_order_wide(&Sha512::new().chain_update(sig.r_bytes()).chain_update(key.as_bytes()).chain_update(msg).finalize().into());
        let mut z = [0u8; 32];
        rng.fill_bytes(&mut z[..16]);
        let z = Scalar::from_bytes_mod_order(z);
        b_coefficient += z * s;
        scalars.push(z);
        points.push(r);
        let zk = z * k;
        match distinct.iter_mut().find(|(vk, _, _)| vk == key) {
            Some((_, _, c)) => *c += zk,
            None => {
                let Some(a) = CompressedEdwardsY(key.to_bytes()).decompress() else { return false };
                distinct.push((*key, a, zk));
            }
        }
    }
    scalars.push(-b_coefficient);
    points.push(ED25519_BASEPOINT_POINT);
    for (_, a, c) in distinct {
        scalars.push(c);
        points.push(a);
    }
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn batch(n: usize, keys: usize) -> (Vec<Vec<u8>>, Vec<Signature>, Vec<VerifyingKey>) {
        let signers: Vec<SigningKey> = (0..keys).map(|_| SigningKey::generate(&mut rand::rngs::OsRng)).collect();
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let sk = &signers[i * keys / n.max(1)];
            let msg = format!("record {i}").repeat(i % 7 + 1).into_bytes();
            out.1.push(sk.sign(&msg));
            out.2.push(sk.verifying_key());
            out.0.push(msg);
        }
        out
    }

    fn check(m: &[Vec<u8>], s: &[Signature], k: &[VerifyingKey]) -> bool {
        let msgs: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
        verify_all(&msgs, s, k)
    }

    #[test]
    fn valid_batches_pass_with_any_number_of_keys() {
        for (n, keys) in [(0, 1), (1, 1), (2, 2), (100, 1), (300, 3), (64, 64)] {
            let (m, s, k) = batch(n, keys);
            assert!(check(&m, &s, &k), "{n} signatures by {keys} keys");
            let msgs: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
            assert!(n == 0 || ed25519_dalek::verify_batch(&msgs, &s, &k).is_ok());
        }
    }

    /// Any single change (message, R, s, the key, a swapped signature) fails the batch, as it fails
    /// dalek's.
    #[test]
    fn any_single_change_fails_the_batch() {
        let (m, s, k) = batch(200, 2);
        let other = SigningKey::generate(&mut rand::rngs::OsRng).verifying_key();
        for i in [0usize, 57, 199] {
            let mut m2 = m.clone();
            m2[i][0] ^= 1;
            assert!(!check(&m2, &s, &k), "message {i}");
            for byte in [0usize, 31, 32, 40, 63] {
                let mut s2 = s.clone();
                let mut b = s2[i].to_bytes();
                b[byte] ^= 1;
                s2[i] = Signature::from_bytes(&b);
                assert!(!check(&m, &s2, &k), "signature {i} byte {byte}");
            }
            let mut k2 = k.clone();
            k2[i] = other;
            assert!(!check(&m, &s, &k2), "key {i}");
            let mut s3 = s.clone();
            s3.swap(i, (i + 1) % 200);
            assert!(!check(&m, &s3, &k), "swapped {i}");
        }
        // A non-canonical s (s + ℓ) is refused even though it satisfies the group equation.
        let mut s4 = s.clone();
        let mut b = s4[3].to_bytes();
        // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let mut l = [0u8; 32];
        l[..16].copy_from_slice(&[0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14]);
        l[31] = 0x10;
        assert_eq!(Scalar::from_bytes_mod_order(l), Scalar::ZERO);
        let mut carry = 0u16;
        for j in 0..32 {
            let v = b[32 + j] as u16 + l[j] as u16 + carry;
            b[32 + j] = v as u8;
            carry = v >> 8;
        }
        s4[3] = Signature::from_bytes(&b);
        assert!(!check(&m, &s4, &k));
        assert!(!check(&m[..3], &s[..2], &k[..3]), "lengths differ");
    }
}
