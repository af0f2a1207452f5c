"""The `releve` command and the embedded servers behind `make run`."""
