"""Teaching: each adapter's own code, model summaries and the defaults that differ, side by side."""
