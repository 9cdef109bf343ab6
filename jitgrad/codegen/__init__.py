"""Code generation: lowering fused kernels to loop nests and compiling them with Numba.

This is the only package that imports numba; the eager library does not depend on it at import time.
"""
