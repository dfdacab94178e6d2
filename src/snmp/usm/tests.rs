//! Golden vectors of the USM: RFC 3414 keys, ciphers against net-snmp.

use super::keys::{MacKey, Secret};
use super::privacy::PrivKey;
use super::*;

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const RFC_ENGINE: &str = "000000000000000000000002";

#[test]
fn rfc3414_a3_password_to_key_and_localisation() {
    // RFC 3414 A.3.1 (MD5) and A.3.2 (SHA): password "maplesyrup",
    // engine ID 00..02.
    let engine = unhex(RFC_ENGINE);
    let ku = password_to_key(AuthProtocol::Md5, b"maplesyrup");
    assert_eq!(hex(&ku), "9faf3283884e92834ebc9847d8edd963");
    assert_eq!(
        hex(&localize_key(AuthProtocol::Md5, &ku, &engine)),
        "526f5eed9fcce26f8964c2930787d82b"
    );
    let ku = password_to_key(AuthProtocol::Sha1, b"maplesyrup");
    assert_eq!(hex(&ku), "9fb5cc0381497b3793528939ff788d5d79145211");
    assert_eq!(
        hex(&localize_key(AuthProtocol::Sha1, &ku, &engine)),
        "6695febc9288e36282235fc7151f128497b38f3f"
    );
}

/// Localized keys net-snmp 5.9.3's snmpd (Debian 12) wrote to its
/// persistent snmpd.conf (`usmUser` lines) for `createUser` lines, engine
/// ID 80001f8880e9bd0c1d12667a5100000000 (`exactEngineID`).
const NET_SNMP_ENGINE: &str = "80001f8880e9bd0c1d12667a5100000000";

#[test]
fn localized_keys_match_net_snmp_for_every_auth_protocol() {
    let engine = unhex(NET_SNMP_ENGINE);
    let cases = [
        (AuthProtocol::Md5, "md5authpass", "29244691585542448c7643694263412a"),
        (AuthProtocol::Sha1, "shaauthpass", "8c480c5b46114db676f9362d122c4d0dc387ed97"),
        (
            AuthProtocol::Sha224,
            "sha224authpass",
            "45b6254ddffd3705d0fad784d6806cfb6e1bc5e8fea773eb36b20e81",
        ),
        (
            AuthProtocol::Sha256,
            "sha256authpass",
            "7b2c9c61c36e4093ef6f2b33930bb83f203ed94657d00edfa597f00aff591222",
        ),
        (
            AuthProtocol::Sha384,
            "sha384authpass",
            "5a41fbe27587cb545687a154f0b98fb6949d858d350cbd95786e3f16818272df69476a0c562f051d72feb621bd881155",
        ),
        (
            AuthProtocol::Sha512,
            "sha512authpass",
            "69dcabbd34c322d9944510ff0fd758592d7e16b42014a338d5237eeea9e448c3cc183c1634f8a722140d080f45999106ebd47ec85e1f3651f4eb96ebbcb0c7fe",
        ),
    ];
    for (auth, password, want) in cases {
        let ku = password_to_key(auth, password.as_bytes());
        assert_eq!(hex(&localize_key(auth, &ku, &engine)), want, "{auth}");
    }
    // Privacy keys: the auth protocol's hash, cut to the cipher's size.
    let privs = [
        (
            AuthProtocol::Md5,
            PrivProtocol::Des,
            "md5privpass",
            "6eec1cc46d266cee691da4d75b9a3d7f",
        ),
        (
            AuthProtocol::Sha1,
            PrivProtocol::Aes128,
            "shaprivpass",
            "6cd6f3730a7ffd058fdb2488cb15bd7d",
        ),
        (
            AuthProtocol::Sha384,
            PrivProtocol::Aes128,
            "sha384privpass",
            "676912934a679ea4c499371cbf234a9e",
        ),
        (
            AuthProtocol::Sha512,
            PrivProtocol::Aes128,
            "sha512privpass",
            "2c40b4d614cafd495f0d415a73f3d688",
        ),
    ];
    for (auth, privacy, password, want) in privs {
        let ku = password_to_key(auth, password.as_bytes());
        assert_eq!(
            hex(&priv_key(auth, privacy, &ku, &engine)),
            want,
            "{auth}/{privacy}"
        );
    }
}

#[test]
fn sha2_keys_match_gosnmp_s_vectors() {
    // gosnmp's v3_usm_test.go (captured from net-snmp against the
    // pysnmp-based demo.snmplabs.com agent): password "authkey1".
    let engine = unhex("80004fb805636c6f75644dab22cc");
    let ku = password_to_key(AuthProtocol::Sha224, b"authkey1");
    assert_eq!(
        hex(&localize_key(AuthProtocol::Sha224, &ku, &engine)),
        "f2a2ebaa9677ad286255596286ca4fb7ec22f52405cb0aac334c5f15"
    );
    let ku = password_to_key(AuthProtocol::Sha512, b"authkey1");
    assert_eq!(
        hex(&localize_key(AuthProtocol::Sha512, &ku, &engine)),
        "c336e5e6396926813d623984610e8f0cd7f419da75c82ac50927c84fd92027f7cdd849ce983036dca67bfb1e8fde2a8c2d45cd2f0d3e0b0b929f7dda462a58cf"
    );
}

#[test]
fn reeder_key_extension_matches_the_draft_s_appendix_b() {
    // draft-reeder-snmpv3-usm-3desede-00 Appendix B ("maplesyrup",
    // engine 00..02), as transcribed in trishul-snmp's
    // tests/test_v3_crypto_parity.py: K1 = Kul, K2 = localize(Ku(K1)).
    let engine = unhex(RFC_ENGINE);
    let md5 = "526f5eed9fcce26f8964c2930787d82b79eff44a90650ee0a3a40abfac5acc12";
    let sha = "6695febc9288e36282235fc7151f128497b38f3f9b8b6d78936ba6e7d19dfd9cd2d5065547743fb5";
    let ku = password_to_key(AuthProtocol::Md5, b"maplesyrup");
    assert_eq!(
        hex(&priv_key(
            AuthProtocol::Md5,
            PrivProtocol::Aes256C,
            &ku,
            &engine
        )),
        md5
    );
    assert_eq!(
        hex(&priv_key(
            AuthProtocol::Md5,
            PrivProtocol::Aes192C,
            &ku,
            &engine
        )),
        md5[..48]
    );
    let ku = password_to_key(AuthProtocol::Sha1, b"maplesyrup");
    assert_eq!(
        hex(&priv_key(
            AuthProtocol::Sha1,
            PrivProtocol::Aes256C,
            &ku,
            &engine
        )),
        sha[..64]
    );
    assert_eq!(
        hex(&priv_key(
            AuthProtocol::Sha1,
            PrivProtocol::Aes192C,
            &ku,
            &engine
        )),
        sha[..48]
    );
}

#[test]
fn blumenthal_key_extension_matches_net_snmp_5_9_4() {
    // net-snmp 5.9.4 built with Blumenthal AES (its persistent store), as
    // recorded in trishul-snmp's tests/test_v3_crypto_parity.py: priv
    // password "privpassword12345", engine 80001f8804726565646572696e76657374.
    let engine = unhex("80001f8804726565646572696e76657374");
    let cases = [
        (
            AuthProtocol::Sha256,
            PrivProtocol::Aes192,
            "93cbabe7564aaffcf6561be284c26e9338036d8ff742783b",
        ),
        (
            AuthProtocol::Sha224,
            PrivProtocol::Aes256,
            "c4962c5bb380a5ab0e8f5a545d637ebc068615bae787302983628ae0405bcfdc",
        ),
        (
            AuthProtocol::Sha384,
            PrivProtocol::Aes192,
            "a9ac4757eeaaaae0b12d9355f42542f651f676188abdfa76",
        ),
        (
            AuthProtocol::Sha512,
            PrivProtocol::Aes256,
            "dab9c5469ab8ad695cc36a8f38a8600b6ead36d1c415cf93dff76f31643774af",
        ),
        (
            AuthProtocol::Sha256,
            PrivProtocol::Aes256,
            "93cbabe7564aaffcf6561be284c26e9338036d8ff742783b48366937ea608a93",
        ),
    ];
    for (auth, privacy, want) in cases {
        let ku = password_to_key(auth, b"privpassword12345");
        assert_eq!(
            hex(&priv_key(auth, privacy, &ku, &engine)),
            want,
            "{auth}/{privacy}"
        );
    }
    // SHA-224 + AES-256 is the one that extends: Kul (28) || H(Kul)[..4].
    let ku = password_to_key(AuthProtocol::Sha224, b"privpassword12345");
    let kul = localize_key(AuthProtocol::Sha224, &ku, &engine);
    let ext = AuthProtocol::Sha224.hash(&[&kul]);
    let key = priv_key(AuthProtocol::Sha224, PrivProtocol::Aes256, &ku, &engine);
    assert_eq!((&key[..28], &key[28..]), (&kul[..], &ext[..4]));
}

#[test]
fn the_two_extensions_differ_only_where_the_hash_is_short() {
    let engine = unhex(NET_SNMP_ENGINE);
    for auth in [AuthProtocol::Md5, AuthProtocol::Sha1, AuthProtocol::Sha224] {
        let ku = password_to_key(auth, b"some password");
        let b = priv_key(auth, PrivProtocol::Aes256, &ku, &engine);
        let c = priv_key(auth, PrivProtocol::Aes256C, &ku, &engine);
        assert_eq!(b[..auth.digest_len()], c[..auth.digest_len()]);
        assert_ne!(b, c, "{auth}");
    }
    let ku = password_to_key(AuthProtocol::Sha256, b"some password");
    assert_eq!(
        priv_key(AuthProtocol::Sha256, PrivProtocol::Aes256, &ku, &engine),
        priv_key(AuthProtocol::Sha256, PrivProtocol::Aes256C, &ku, &engine)
    );
}

#[test]
fn ciphers_round_trip_and_des_pads() {
    for privacy in [
        PrivProtocol::Des,
        PrivProtocol::Aes128,
        PrivProtocol::Aes192,
        PrivProtocol::Aes256,
        PrivProtocol::Aes192C,
        PrivProtocol::Aes256C,
    ] {
        let key = PrivKey::new(privacy, &(0u8..32).collect::<Vec<u8>>()).unwrap();
        let plain: Vec<u8> = (0u8..45).collect();
        let mut buf = plain.clone();
        let params = key.encrypt(7, 1234, 0x0102_0304_0506_0708, &mut buf);
        assert_ne!(buf[..45], plain[..], "{privacy}");
        if privacy == PrivProtocol::Des {
            assert_eq!(buf.len(), 48);
            assert_eq!(params, [0, 0, 0, 7, 5, 6, 7, 8]);
        } else {
            assert_eq!(buf.len(), 45);
            assert_eq!(params, [1, 2, 3, 4, 5, 6, 7, 8]);
        }
        assert!(key.decrypt(7, 1234, &params, &mut buf));
        assert_eq!(buf[..45], plain[..], "{privacy}");
        assert!(!key.decrypt(7, 1234, &params[..7], &mut buf));
    }
    let des = PrivKey::new(PrivProtocol::Des, &[1; 16]).unwrap();
    assert!(!des.decrypt(0, 0, &[0; 8], &mut [0; 9]), "not whole blocks");
    assert!(PrivKey::new(PrivProtocol::Aes256, &[1; 16]).is_err());
}

#[test]
fn macs_are_truncated_and_verified() {
    for auth in [
        AuthProtocol::Md5,
        AuthProtocol::Sha1,
        AuthProtocol::Sha224,
        AuthProtocol::Sha256,
        AuthProtocol::Sha384,
        AuthProtocol::Sha512,
    ] {
        let key = MacKey::new(auth, &Secret(vec![9; auth.digest_len()])).unwrap();
        let mut tag = vec![0u8; auth.mac_len()];
        key.sign(b"message", &mut tag);
        assert!(key.verify(b"message", &tag));
        assert!(!key.verify(b"messagf", &tag));
        tag[0] ^= 1;
        assert!(!key.verify(b"message", &tag));
    }
    // RFC 2202 test case 2 (HMAC-MD5, key "Jefe"), truncated to 96 bits.
    let key = MacKey::new(AuthProtocol::Md5, &Secret(b"Jefe".to_vec())).unwrap();
    let mut tag = [0u8; 12];
    key.sign(b"what do ya want for nothing?", &mut tag);
    assert_eq!(hex(&tag), "750c783e6ab0b503eaa86e31");
}

#[test]
fn passwords_and_keys_stay_out_of_debug() {
    let u = Usm::new("ops")
        .auth(AuthProtocol::Sha1, "auth-password-1")
        .privacy(PrivProtocol::Aes128, "priv-password-2");
    let master = MasterKeys::new(&u);
    let local = master.localize(&u, &unhex(NET_SNMP_ENGINE)).unwrap();
    let ku = password_to_key(AuthProtocol::Sha1, b"auth-password-1");
    let text = format!("{u:?} {master:?} {local:?} {:?}", Secret(ku.clone()));
    for secret in [
        "auth-password-1",
        "priv-password-2",
        &hex(&ku),
        &format!("{ku:?}"),
    ] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(text.contains("<redacted>"));
}

#[test]
fn validation() {
    let ok = Usm::new("u")
        .auth(AuthProtocol::Md5, "12345678")
        .privacy(PrivProtocol::Des, "abcdefgh");
    ok.validate().unwrap();
    assert!(
        Usm::new("u").validate().is_ok(),
        "noAuthNoPriv needs no password"
    );
    let e = Usm::new("u")
        .auth(AuthProtocol::Md5, "1234567")
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("authentication password"), "{e}");
    let e = ok
        .clone()
        .privacy(PrivProtocol::Des, "short")
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("privacy password"), "{e}");
    assert!(!e.to_string().contains("short"));
    assert!(Usm::new("").validate().is_err());
    assert!(Usm::new("x".repeat(33)).validate().is_err());
    assert!(Usm::new("u")
        .context_name("c".repeat(33))
        .validate()
        .is_err());
    assert!(Usm::new("u")
        .context_engine_id(vec![1, 2])
        .validate()
        .is_err());
}
