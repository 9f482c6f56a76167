"""The `vrift` command line."""
