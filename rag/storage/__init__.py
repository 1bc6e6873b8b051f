"""Storage helpers below every feature: SQLite files shared by several writers."""
