//! User names for uids, looked up once each (through NSS, so LDAP and the like work too).

use std::collections::HashMap;

use crate::text;

/// The user names met so far. Lookups happen before a frame is drawn
/// ([`Users::resolve`]), so that drawing itself only reads.
pub struct Users {
    names: HashMap<u32, Option<String>>,
    lookup: fn(u32) -> Option<String>,
}

impl Users {
    /// Names from the system's user database.
    pub fn system() -> Self {
        Self::with_lookup(passwd_name)
    }

    /// Names from `lookup`: for tests, which must not depend on the machine's users.
    pub fn with_lookup(lookup: fn(u32) -> Option<String>) -> Self {
        Self {
            names: HashMap::new(),
            lookup,
        }
    }

    /// Looks `uid` up unless it was already. The name is kept [escaped](text::escape): a
    /// user database (LDAP, a file an administrator edited) may hold any bytes.
    pub fn resolve(&mut self, uid: u32) {
        let lookup = self.lookup;
        self.names
            .entry(uid)
            .or_insert_with(|| lookup(uid).map(|name| text::escape_str(&name).into_owned()));
    }

    /// The name of a resolved uid, terminal-safe; `None` if it has no name or was not
    /// resolved.
    pub fn name(&self, uid: u32) -> Option<&str> {
        self.names.get(&uid)?.as_deref()
    }
}

fn passwd_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: plain data, filled in by getpwuid_r.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result = std::ptr::null_mut();
    // SAFETY: every pointer is valid for what getpwuid_r writes; `buf` outlives the use of
    // `pwd.pw_name`, which points into it.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so pw_name is a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    // From the bytes, so that undecodable ones show as `\xNN`; escaping again is a no-op.
    Some(text::escape(name.to_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_uid_0_and_lookups_are_cached() {
        let mut users = Users::system();
        assert_eq!(users.name(0), None, "not resolved yet");
        users.resolve(0);
        assert_eq!(users.name(0), Some("root"));

        let mut users = Users::with_lookup(|uid| (uid == 7).then(|| "seven".to_owned()));
        users.resolve(7);
        users.resolve(8);
        assert_eq!(users.name(7), Some("seven"));
        assert_eq!(users.name(8), None);

        let mut users = Users::with_lookup(|_| Some("ev\x1bil\u{202e}".to_owned()));
        users.resolve(9);
        assert_eq!(users.name(9), Some(r"ev\eil\u{202e}"));
    }
}
