//! The cryptography of the WebRTC legs, as a str0m [`CryptoProvider`]: DTLS 1.2 (RFC 6347)
//! by `dimpl` on RustCrypto, the SRTP ciphers of RFC 5764 §4.1.2 (AES-CM with HMAC-SHA1-80,
//! AEAD AES-GCM, RFC 7714) on `aes`/`ctr`/`aes-gcm`, HMAC-SHA1 for STUN's
//! MESSAGE-INTEGRITY (RFC 5389 §15.4) and SHA-256 for certificate fingerprints (RFC 8122
//! §5). The relay's self-signed certificate (ECDSA P-256, RFC 5763 §5) is made by `rcgen`
//! on `ring`, which the workspace already uses for TLS.
//!
//! Adapted from str0m's own `str0m-rust-crypto` (MIT OR Apache-2.0), which cannot be used
//! as it is: its certificate generation brings `aws-lc-rs`, a C library build of its own.

use std::sync::Arc;
use std::time::Instant;

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Digest;
use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
};
use str0m::crypto::{
    AeadAes128Gcm, AeadAes128GcmCipher, AeadAes256Gcm, AeadAes256GcmCipher, Aes128CmSha1_80Cipher,
    CryptoProvider, Sha1HmacProvider, Sha256Provider, SrtpProvider, SupportedAeadAes128Gcm,
    SupportedAeadAes256Gcm, SupportedAes128CmSha1_80,
};
use str0m_proto::crypto::CryptoError;

/// The provider every WebRTC leg of the relay uses.
pub fn provider() -> Arc<CryptoProvider> {
    static SRTP: Srtp = Srtp;
    static SHA1_HMAC: Sha1Hmac = Sha1Hmac;
    static SHA256: Sha256 = Sha256;
    static DTLS: Dtls = Dtls;
    Arc::new(CryptoProvider {
        srtp_provider: &SRTP,
        sha1_hmac_provider: &SHA1_HMAC,
        sha256_provider: &SHA256,
        dtls_provider: &DTLS,
    })
}

/// A fresh self-signed ECDSA P-256 certificate for DTLS (RFC 5763 §5: self-signed, its
/// fingerprint in the SDP); `None` when the key could not be made.
pub fn certificate() -> Option<DtlsCert> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).ok()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).ok()?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, "itsp relay");
    params.distinguished_name = name;
    let cert = params.self_signed(&key).ok()?;
    Some(DtlsCert {
        certificate: cert.der().to_vec(),
        private_key: key.serialize_der(),
    })
}

#[derive(Debug)]
struct Sha1Hmac;

impl Sha1HmacProvider for Sha1Hmac {
    fn sha1_hmac(&self, key: &[u8], payloads: &[&[u8]]) -> [u8; 20] {
        let mut output = [0u8; 20];
        // HMAC takes keys of any length: this never fails.
        if let Ok(mut mac) = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key) {
            for payload in payloads {
                mac.update(payload);
            }
            output.copy_from_slice(&mac.finalize().into_bytes());
        }
        output
    }
}

#[derive(Debug)]
struct Sha256;

impl Sha256Provider for Sha256 {
    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        sha2::Sha256::digest(data).into()
    }
}

#[derive(Debug)]
struct Dtls;

impl DtlsProvider for Dtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        // ICE has checked return routability before DTLS starts: no cookie exchange.
        let mut builder = dimpl::Config::builder().use_server_cookie(false);
        if let Some(mtu) = mtu {
            builder = builder.mtu(mtu);
        }
        let config = Arc::new(
            builder
                .build()
                .map_err(|e| CryptoError::Other(format!("DTLS configuration: {e}")))?,
        );
        let cert = cert.clone();
        let dtls = match version {
            DtlsVersion::Dtls13 => dimpl::Dtls::new_13(config, cert, now),
            DtlsVersion::Auto => dimpl::Dtls::new_auto(config, cert, now),
            _ => dimpl::Dtls::new_12(config, cert, now),
        };
        Ok(Box::new(DtlsSession(dtls)))
    }
}

struct DtlsSession(dimpl::Dtls);

impl std::fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DtlsSession")
    }
}

impl DtlsInstance for DtlsSession {
    fn set_active(&mut self, active: bool) {
        self.0.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.0.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        self.0.poll_output(buf)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.0.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<(), DtlsImplError> {
        self.0.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.0.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.0.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.0.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.0.close()
    }
}

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Writes `input` encrypted (or decrypted: counter mode is its own inverse) into `output`.
struct AesCm {
    key: [u8; 16],
}

impl std::fmt::Debug for AesCm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesCm")
    }
}

impl Aes128CmSha1_80Cipher for AesCm {
    fn encrypt(
        &mut self,
        iv: &[u8; 16],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        let out = output
            .get_mut(..input.len())
            .ok_or_else(|| CryptoError::Other("SRTP output buffer too small".into()))?;
        out.copy_from_slice(input);
        Aes128Ctr::new(&self.key.into(), iv.into()).apply_keystream(out);
        Ok(())
    }

    fn decrypt(
        &mut self,
        iv: &[u8; 16],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.encrypt(iv, input, output)
    }
}

/// AEAD AES-GCM of either key size (RFC 7714).
struct Gcm<C>(C);

impl<C> std::fmt::Debug for Gcm<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gcm")
    }
}

fn gcm_encrypt<C: Aead>(
    cipher: &C,
    iv: &[u8; 12],
    aad: &[u8],
    input: &[u8],
    output: &mut [u8],
) -> Result<(), CryptoError> {
    let sealed = cipher
        .encrypt(Nonce::from_slice(iv), Payload { msg: input, aad })
        .map_err(|_| CryptoError::Other("AES-GCM encryption failed".into()))?;
    output
        .get_mut(..sealed.len())
        .ok_or_else(|| CryptoError::Other("SRTP output buffer too small".into()))?
        .copy_from_slice(&sealed);
    Ok(())
}

fn gcm_decrypt<C: Aead>(
    cipher: &C,
    iv: &[u8; 12],
    aads: &[&[u8]],
    input: &[u8],
    output: &mut [u8],
) -> Result<usize, CryptoError> {
    let aad = aads.concat();
    let opened = cipher
        .decrypt(
            Nonce::from_slice(iv),
            Payload {
                msg: input,
                aad: &aad,
            },
        )
        .map_err(|_| CryptoError::Other("AES-GCM authentication failed".into()))?;
    output
        .get_mut(..opened.len())
        .ok_or_else(|| CryptoError::Other("SRTP output buffer too small".into()))?
        .copy_from_slice(&opened);
    Ok(opened.len())
}

impl AeadAes128GcmCipher for Gcm<Aes128Gcm> {
    fn encrypt(
        &mut self,
        iv: &[u8; AeadAes128Gcm::IV_LEN],
        aad: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        gcm_encrypt(&self.0, iv, aad, input, output)
    }

    fn decrypt(
        &mut self,
        iv: &[u8; AeadAes128Gcm::IV_LEN],
        aads: &[&[u8]],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, CryptoError> {
        gcm_decrypt(&self.0, iv, aads, input, output)
    }
}

impl AeadAes256GcmCipher for Gcm<Aes256Gcm> {
    fn encrypt(
        &mut self,
        iv: &[u8; AeadAes256Gcm::IV_LEN],
        aad: &[u8],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<(), CryptoError> {
        gcm_encrypt(&self.0, iv, aad, input, output)
    }

    fn decrypt(
        &mut self,
        iv: &[u8; AeadAes256Gcm::IV_LEN],
        aads: &[&[u8]],
        input: &[u8],
        output: &mut [u8],
    ) -> Result<usize, CryptoError> {
        gcm_decrypt(&self.0, iv, aads, input, output)
    }
}

#[derive(Debug)]
struct Srtp;

#[derive(Debug)]
struct CmFactory;

impl SupportedAes128CmSha1_80 for CmFactory {
    fn create_cipher(&self, key: [u8; 16], _encrypt: bool) -> Box<dyn Aes128CmSha1_80Cipher> {
        Box::new(AesCm { key })
    }
}

#[derive(Debug)]
struct Gcm128Factory;

impl SupportedAeadAes128Gcm for Gcm128Factory {
    fn create_cipher(&self, key: [u8; 16], _encrypt: bool) -> Box<dyn AeadAes128GcmCipher> {
        Box::new(Gcm(Aes128Gcm::new(GenericArray::from_slice(&key))))
    }
}

#[derive(Debug)]
struct Gcm256Factory;

impl SupportedAeadAes256Gcm for Gcm256Factory {
    fn create_cipher(&self, key: [u8; 32], _encrypt: bool) -> Box<dyn AeadAes256GcmCipher> {
        Box::new(Gcm(Aes256Gcm::new(GenericArray::from_slice(&key))))
    }
}

/// One AES block of `input`, then the block of PKCS#7 padding, each through `encrypt`,
/// into `output` (what str0m's key derivation asks of an ECB "round").
fn ecb_round(encrypt: impl Fn(&mut aes::Block), input: &[u8], output: &mut [u8]) {
    let (Some(block), Some(out)) = (input.get(..16), output.get_mut(..32)) else {
        return;
    };
    let mut first = aes::Block::clone_from_slice(block);
    encrypt(&mut first);
    let mut padding = aes::Block::from([0x10u8; 16]);
    encrypt(&mut padding);
    out[..16].copy_from_slice(&first);
    out[16..].copy_from_slice(&padding);
}

impl SrtpProvider for Srtp {
    fn aes_128_cm_sha1_80(&self) -> &'static dyn SupportedAes128CmSha1_80 {
        &CmFactory
    }

    fn aead_aes_128_gcm(&self) -> &'static dyn SupportedAeadAes128Gcm {
        &Gcm128Factory
    }

    fn aead_aes_256_gcm(&self) -> &'static dyn SupportedAeadAes256Gcm {
        &Gcm256Factory
    }

    fn srtp_aes_128_ecb_round(&self, key: &[u8], input: &[u8], output: &mut [u8]) {
        use aes::cipher::BlockEncrypt;
        if let Ok(cipher) = <aes::Aes128 as aes::cipher::KeyInit>::new_from_slice(key) {
            ecb_round(|b| cipher.encrypt_block(b), input, output);
        }
    }

    fn srtp_aes_256_ecb_round(&self, key: &[u8], input: &[u8], output: &mut [u8]) {
        use aes::cipher::BlockEncrypt;
        if let Ok(cipher) = <aes::Aes256 as aes::cipher::KeyInit>::new_from_slice(key) {
            ecb_round(|b| cipher.encrypt_block(b), input, output);
        }
    }
}
