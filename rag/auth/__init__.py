"""Who the user is and what they may do.

- `principal`: the `Principal` (email, admin or not) and the roles viewer < editor < owner.
- `oidc`: whether an identity provider is configured (`.streamlit/secrets.toml` [auth], or
  RAG_OIDC_* variables translated for Streamlit's `st.login`); none means single-user mode.
- `guard`: `Access`, the checks `Services` makes on every workspace it opens, the membership
  commands and the audit trail's hooks.
The app's sign-in gate is `rag.ui.auth` (only rag/ui imports Streamlit).
"""

from rag.auth.errors import AccessDenied, AuthNotConfigured, NotAMember, RoleTooLow, SignInRequired
from rag.auth.principal import ROLES, Principal, local_principal, principal_for

__all__ = ["ROLES", "AccessDenied", "AuthNotConfigured", "NotAMember", "Principal",
           "RoleTooLow", "SignInRequired", "local_principal", "principal_for"]
