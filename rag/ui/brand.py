"""The product's name and its images, served from the package (never from a font server)."""

from __future__ import annotations

from pathlib import Path

PRODUCT = "RAGdesk"
TAGLINE = "Company documents, answers you can check"
_ASSETS = Path(__file__).resolve().parent / "assets"
ICON = _ASSETS / "icon.svg"  # the tab's icon and the collapsed sidebar's logo
LOGO = _ASSETS / "logo.svg"  # the icon with the product name, at the top of the sidebar
