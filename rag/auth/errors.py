"""The refusals of `rag.auth`: each message says what happened and what to do next."""

from __future__ import annotations

from rag.errors import RagError, WorkspaceError


class AuthNotConfigured(RagError):
    """RAG_AUTH=required, but no identity provider is configured."""


class AccessDenied(WorkspaceError):
    """The user may not do this."""


class SignInRequired(AccessDenied):
    """Sign-in is configured and nobody is signed in."""


class NotAMember(AccessDenied):
    """The user has no role in the workspace."""

    def __init__(self, workspace: str) -> None:
        super().__init__(f"you are not a member of workspace '{workspace}': ask its owner "
                         "(or an admin) to add you")
        self.workspace = workspace


class RoleTooLow(AccessDenied):
    """The user's role in the workspace does not allow this."""

    def __init__(self, workspace: str, role: str, need: str, what: str) -> None:
        super().__init__(f"you are a {role} of workspace '{workspace}': {what} needs the "
                         f"{need} role; ask its owner")
        self.workspace, self.role, self.need = workspace, role, need
