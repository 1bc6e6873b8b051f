"""One exception family; every message says what happened and what to do next."""


class RagError(Exception):
    """Base class: `str(err)` is a one-line message fit to show a user."""


class UnsupportedFile(RagError):
    """The file type is not one RAGdesk reads."""


class BadFile(RagError):
    """The file is of a supported type but cannot be read (corrupt, encrypted, empty...)."""


class FileTooLarge(BadFile):
    """The file is over the configured size limit."""


class WorkspaceError(RagError):
    """A workspace cannot be opened or changed as asked."""


class ModelMismatch(WorkspaceError):
    """The workspace was built with a different embedding model."""


class NotFound(RagError):
    """A workspace or document does not exist."""
