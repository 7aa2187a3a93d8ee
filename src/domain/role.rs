//! What an API key may do.

use std::{fmt, str::FromStr};

/// Roles are ordered: an admin may do everything an operator may, and an operator everything
/// a viewer may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads and searches, with phone numbers masked; may reveal one number at a time,
    /// audited.
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether phone numbers are shown to this role only masked.
    pub fn sees_masked_phones(self) -> bool {
        self == Role::Viewer
    }

    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err("must be `admin`, `operator` or `viewer`".into()),
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
    fn admin_includes_operator_but_not_the_reverse() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Admin.allows(Role::Admin));
        assert!(!Role::Operator.allows(Role::Admin));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(Role::Viewer.sees_masked_phones() && !Role::Operator.sees_masked_phones());
        assert_eq!("viewer".parse::<Role>(), Ok(Role::Viewer));
    }

    #[test]
    fn each_role_is_written_and_read_by_its_name() {
        for (role, name) in [
            (Role::Viewer, "viewer"),
            (Role::Operator, "operator"),
            (Role::Admin, "admin"),
        ] {
            assert_eq!(role.as_str(), name);
            assert_eq!(role.to_string(), name);
            assert_eq!(name.parse::<Role>(), Ok(role));
        }
        assert!("Admin".parse::<Role>().is_err());
    }
}
