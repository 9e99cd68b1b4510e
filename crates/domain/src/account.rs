//! Accounts: usernames, passwords and roles, parsed once at the boundary.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use unicode_normalization::UnicodeNormalization;

/// A username, normalised: Unicode NFKC with invisible characters removed
/// (`arena_text::normalise`), then lower case, surrounding spaces removed. Two spellings that
/// normalise alike (`Ｊｏｎ`, `jon`, `JON`, `jon` + a zero-width space) are the same username;
/// the server also refuses a username that merely *looks* like an existing one (its
/// `arena_text::skeleton`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountInputError {
    #[error("a username has 3 to 32 characters")]
    UsernameLength,
    #[error("a username has only letters, digits, '.', '_' and '-'")]
    UsernameCharacters,
    #[error("a password has 8 to 128 characters, at least 8 of them visible (not spaces)")]
    PasswordLength,
    #[error("a role is volunteer, researcher or admin")]
    UnknownRole,
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, AccountInputError> {
        let normalised: String = arena_text::normalise(raw).trim().to_lowercase();
        // Lower-casing can leave a non-NFKC string (e.g. 'İ'): normalise once more.
        let normalised: String = normalised.nfkc().collect();
        let length = normalised.chars().count();
        if !(3..=32).contains(&length) {
            return Err(AccountInputError::UsernameLength);
        }
        if !normalised
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(AccountInputError::UsernameCharacters);
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password, NFC-normalised (one password typed on two keyboards that compose accents
/// differently is one password): 8 to 128 characters (not bytes), at least 8 of them visible
/// (eight spaces or eight zero-width characters are not a password), never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, AccountInputError> {
        let nfc: String = raw.nfc().collect();
        if !(8..=128).contains(&nfc.chars().count()) || arena_text::visible_len(&nfc) < 8 {
            return Err(AccountInputError::PasswordLength);
        }
        Ok(Self(nfc))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// What an account may do: volunteers vote; researchers also export data; admins run the
/// arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Volunteer,
    Researcher,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Volunteer => "volunteer",
            Role::Researcher => "researcher",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = AccountInputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "volunteer" => Ok(Role::Volunteer),
            "researcher" => Ok(Role::Researcher),
            "admin" => Ok(Role::Admin),
            _ => Err(AccountInputError::UnknownRole),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_so_look_alikes_collide() {
        let plain = Username::parse("jon").unwrap();
        assert_eq!(Username::parse("  JON ").unwrap(), plain);
        assert_eq!(
            Username::parse("Ｊｏｎ").unwrap(),
            plain,
            "full-width letters (NFKC)"
        );
        assert_eq!(
            Username::parse("Ander.Etxeberria").unwrap().as_str(),
            "ander.etxeberria"
        );
        assert_eq!(Username::parse("Iñaki").unwrap().as_str(), "iñaki");
        assert_eq!(
            Username::parse("In\u{0303}aki").unwrap(),
            Username::parse("Iñaki").unwrap(),
            "combining tilde composes"
        );
        assert_eq!(
            Username::parse("ptadmin\u{3164}").unwrap().as_str(),
            "ptadmin",
            "a Hangul filler is invisible"
        );
        assert_eq!(
            Username::parse("pt\u{200b}admin").unwrap().as_str(),
            "ptadmin",
            "a zero-width space is invisible"
        );
    }

    #[test]
    fn bad_usernames_and_passwords_are_refused_plainly() {
        assert_eq!(
            Username::parse("jo"),
            Err(AccountInputError::UsernameLength)
        );
        assert_eq!(
            Username::parse(&"a".repeat(33)),
            Err(AccountInputError::UsernameLength)
        );
        assert_eq!(
            Username::parse("jon doe"),
            Err(AccountInputError::UsernameCharacters)
        );
        assert_eq!(
            Username::parse("jon<script>"),
            Err(AccountInputError::UsernameCharacters)
        );
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("        ").is_err(), "eight spaces");
        assert!(
            Password::parse(&"\u{200b}".repeat(8)).is_err(),
            "eight zero-width spaces"
        );
        assert!(Password::parse(" a b c d e f g ").is_err(), "seven visible");
        assert_eq!(
            Password::parse("pasahitza\u{0301}").unwrap().expose(),
            Password::parse("pasahitzá").unwrap().expose(),
            "NFD and NFC are one password"
        );
        assert!(Password::parse("12345678").is_ok());
        assert!(
            Password::parse(&"é".repeat(128)).is_ok(),
            "characters, not bytes"
        );
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("hunter22").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in [Role::Volunteer, Role::Researcher, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("root".parse::<Role>(), Err(AccountInputError::UnknownRole));
        assert_eq!("Admin".parse::<Role>(), Err(AccountInputError::UnknownRole));
    }
}
