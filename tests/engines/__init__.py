"""Engines registered only through FRAMEBENCH_EXTRA_FRAMEWORKS: no project file knows them."""
