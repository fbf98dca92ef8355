//! A real OpenLDAP server (Debian's `slapd`) for the LDAP tests: its own data directory,
//! loopback ports for `ldap://` (with StartTLS) and `ldaps://`, a CA and server certificate
//! made by the test, and a directory with people, groups of every kind, an entry whose
//! name holds every character special in DNs and filters, and an Active-Directory-shaped
//! subtree (`sAMAccountName`, `userPrincipalName`, `memberOf`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

/// The directory's suffix.
pub const BASE: &str = "dc=example,dc=org";
/// The service account that searches with `lookup_dn`.
pub const SEARCH_DN: &str = "cn=search,dc=example,dc=org";
/// Its password.
pub const SEARCH_PW: &str = "search-pw";
/// The login name of the entry whose name holds every special character.
pub const SPECIAL_UID: &str = "#sp,e+c\"i\\a<l>;n=a*m(e)";

/// A running slapd, killed on drop.
#[derive(Debug)]
pub struct Slapd {
    child: Option<Child>,
    binary: PathBuf,
    /// Port of `ldap://127.0.0.1:PORT` (plain, StartTLS available).
    pub ldap_port: u16,
    /// Port of `ldaps://127.0.0.1:PORT`.
    pub ldaps_port: u16,
    /// Everything the server uses.
    pub dir: tempfile::TempDir,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `slapd` and `slapadd`, or `None` (and the test's verdict) when they are not installed.
fn binaries() -> Option<(PathBuf, PathBuf)> {
    let slapd = PathBuf::from("/usr/sbin/slapd");
    let slapadd = PathBuf::from("/usr/sbin/slapadd");
    if slapd.is_file() && slapadd.is_file() {
        return Some((slapd, slapadd));
    }
    if std::env::var("HUBAUTH_SKIP_SLAPD").as_deref() == Ok("1") {
        eprintln!("slapd is not installed; skipping (HUBAUTH_SKIP_SLAPD=1)");
        return None;
    }
    panic!(
        "slapd is not installed: run ./scripts/test.sh (it installs Debian's slapd and ldap-utils), or set HUBAUTH_SKIP_SLAPD=1 to skip the LDAP tests"
    );
}

/// Two distinct free ports: both are held while the second is chosen, so they differ.
fn two_free_ports() -> (u16, u16) {
    let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let second = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (
        first.local_addr().unwrap().port(),
        second.local_addr().unwrap().port(),
    )
}

/// The DN of a person under `ou=people`.
pub fn person_dn(uid: &str) -> String {
    format!("uid={},ou=people,{BASE}", ldap3_dn_escape(uid))
}

/// RFC 4514 escaping, as the authenticator does it (written again here so the test does
/// not trust the code under test).
pub fn ldap3_dn_escape(value: &str) -> String {
    let mut out = String::new();
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '=' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            other => out.push(other),
        }
    }
    out
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The test directory's contents.
fn ldif() -> String {
    let mut ldif = format!(
        "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=ad,{BASE}\nobjectClass: organizationalUnit\nou: ad\n\n\
         dn: {SEARCH_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: search\nuserPassword: {SEARCH_PW}\n\n"
    );
    for (uid, mail) in [
        ("alice", "alice@example.org"),
        ("bob", "bob@example.org"),
        ("carol", "carol@example.org"),
        ("dave", "dave@example.org"),
        ("erin", "erin@example.org"),
    ] {
        ldif.push_str(&format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\nmail: {mail}\nuserPassword: {uid}-pw\n\n",
            person_dn(uid)
        ));
    }
    // Every character that is special in a DN or a filter, in one login name.
    ldif.push_str(&format!(
        "dn:: {}\nobjectClass: inetOrgPerson\nuid:: {}\ncn: special\nsn: special\nuserPassword: special-pw\n\n",
        b64(&person_dn(SPECIAL_UID)),
        b64(SPECIAL_UID)
    ));
    ldif.push_str(&format!(
        "dn: cn=staff,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: staff\nmember: {}\nmember: {}\n\n",
        person_dn("alice"),
        person_dn("erin")
    ));
    ldif.push_str(&format!(
        "dn: cn=ops,ou=groups,{BASE}\nobjectClass: groupOfUniqueNames\ncn: ops\nuniqueMember: {}\n\n",
        person_dn("bob")
    ));
    ldif.push_str(&format!(
        "dn: cn=posix,ou=groups,{BASE}\nobjectClass: posixGroup\ncn: posix\ngidNumber: 5000\nmemberUid: carol\n\n"
    ));
    ldif.push_str(&format!(
        "dn: cn=special,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: special\nmember:: {}\n\n",
        b64(&person_dn(SPECIAL_UID))
    ));
    // Active Directory's shape: the DN holds the display name, the login is sAMAccountName.
    for (cn, sam, groups) in [
        ("Eve Adams", "eve", vec!["ad-staff"]),
        ("Frank Moss", "frank", vec![]),
    ] {
        let mut entry = format!(
            "dn: cn={cn},ou=ad,{BASE}\nobjectClass: inetOrgPerson\nobjectClass: hubauthAdUser\ncn: {cn}\nsn: {sam}\nsAMAccountName: {sam}\nuserPrincipalName: {sam}@corp.example.org\nuserPassword: {sam}-pw\n"
        );
        for group in groups {
            entry.push_str(&format!("memberOf: cn={group},ou=ad,{BASE}\n"));
        }
        ldif.push_str(&entry);
        ldif.push('\n');
    }
    ldif.push_str(&format!(
        "dn: cn=ad-staff,ou=ad,{BASE}\nobjectClass: groupOfNames\ncn: ad-staff\nmember: cn=Eve Adams,ou=ad,{BASE}\n\n"
    ));
    ldif
}

/// Active Directory's attributes, with Microsoft's OIDs, for the AD-shaped subtree.
const AD_SCHEMA: &str = "attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.55555.1.1 NAME 'hubauthAdUser' AUXILIARY MAY ( sAMAccountName $ userPrincipalName $ memberOf ) )
";

fn slapd_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include {d}/ad.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
TLSVerifyClient allow
database mdb
suffix \"{BASE}\"
rootdn \"cn=admin,{BASE}\"
rootpw admin-pw
directory {d}/data
maxsize 10485760
index objectClass eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
"
    )
}

/// A CA and a server certificate for 127.0.0.1 and localhost, signed by it; PEM files.
fn write_certificates(dir: &Path) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hubauth test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let server = params.signed_by(&server_key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    // A client certificate signed by the same CA.
    let client_key = rcgen::KeyPair::generate().unwrap();
    let mut client = rcgen::CertificateParams::new(vec!["hub.example.org".to_owned()]).unwrap();
    client
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hubauth");
    let client = client.signed_by(&client_key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("client.pem"), client.pem()).unwrap();
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).unwrap();
    // A CA that signed nothing this server has: trusting only it must fail the handshake.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let mut other = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other = other.self_signed(&other_key).unwrap();
    std::fs::write(dir.join("other-ca.pem"), other.pem()).unwrap();
}

impl Slapd {
    /// Creates and loads the directory and starts slapd, or `None` when it is not
    /// installed and the tests are told to skip.
    pub async fn start() -> Option<Slapd> {
        let (binary, slapadd) = binaries()?;
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("ad.schema"), AD_SCHEMA).unwrap();
        std::fs::write(dir.path().join("slapd.conf"), slapd_conf(dir.path())).unwrap();
        std::fs::write(dir.path().join("data.ldif"), ldif()).unwrap();
        write_certificates(dir.path());
        let loaded = Command::new(&slapadd)
            .arg("-f")
            .arg(dir.path().join("slapd.conf"))
            .arg("-l")
            .arg(dir.path().join("data.ldif"))
            .output()
            .unwrap();
        assert!(
            loaded.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&loaded.stderr)
        );
        let (ldap_port, ldaps_port) = two_free_ports();
        let mut slapd = Slapd {
            child: None,
            binary,
            ldap_port,
            ldaps_port,
            dir,
        };
        // A port chosen here can be taken by another test before slapd binds it: then
        // slapd exits at once, and new ports are tried.
        for _ in 0..5 {
            if slapd.try_run().await {
                return Some(slapd);
            }
            (slapd.ldap_port, slapd.ldaps_port) = two_free_ports();
        }
        panic!("slapd did not start:\n{}", slapd.log());
    }

    /// (Re)starts the server on the same ports and data.
    pub async fn run(&mut self) {
        assert!(
            self.try_run().await,
            "slapd exited at start:\n{}",
            self.log()
        );
    }

    /// Starts the server; false when it exited at once (a port was taken).
    async fn try_run(&mut self) -> bool {
        let urls = format!(
            "ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/",
            self.ldap_port, self.ldaps_port
        );
        let log = std::fs::File::create(self.dir.path().join("slapd.log")).unwrap();
        let child = Command::new(&self.binary)
            .arg("-f")
            .arg(self.dir.path().join("slapd.conf"))
            .args(["-h", &urls, "-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start slapd");
        self.child = Some(child);
        for _ in 0..200 {
            if self.child.as_mut().unwrap().try_wait().unwrap().is_some() {
                self.child = None;
                return false;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.ldaps_port))
                .await
                .is_ok()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("slapd did not listen:\n{}", self.log());
    }

    /// Stops the server (a directory that is down).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// The CA certificate file the server's certificate is signed by.
    pub fn ca_file(&self) -> String {
        self.dir.path().join("ca.pem").display().to_string()
    }

    /// A CA file that does not vouch for the server.
    pub fn other_ca_file(&self) -> String {
        self.dir.path().join("other-ca.pem").display().to_string()
    }

    /// Applies an LDIF change as the directory's administrator (`ldapmodify`).
    pub fn modify(&self, ldif: &str) {
        use std::io::Write as _;
        let mut child = Command::new("ldapmodify")
            .args([
                "-x",
                "-H",
                &format!("ldap://127.0.0.1:{}", self.ldap_port),
                "-D",
                &format!("cn=admin,{BASE}"),
                "-w",
                "admin-pw",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ldapmodify (Debian's ldap-utils)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ldapmodify failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
