"""Running rows: one child process per row, timed by shared code, saved as each finishes."""
