"""A framework whose import fails, like a wheel with a missing shared library."""

raise ImportError("simulated: libfault.so: cannot open shared object file")
