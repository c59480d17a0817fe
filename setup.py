"""The host install's native part: the `_zcrypto` CPython extension over the system mbedTLS
(Debian libmbedtls-dev). Everything else is in pyproject.toml.

ZEROTAP_NATIVE=0 in the environment builds no extension (`make check` without mbedTLS's headers):
the crypto then runs on the pure backends."""
import os

from setuptools import Extension, setup

NATIVE = os.environ.get("ZEROTAP_NATIVE", "1") != "0"

setup(
    ext_modules=[
        Extension(
            "_zcrypto",
            sources=["native/zcrypto/zcrypto.c", "native/zcrypto/zcrypto_p256.c", "native/zcrypto/zcrypto_x86.c",
                     "native/zcrypto/zcrypto_cpython.c"],
            include_dirs=["native/zcrypto"],
            libraries=["mbedcrypto"],
            extra_compile_args=["-O3", "-funroll-loops", "-std=c99", "-Wall", "-Wextra", "-Wno-unused-parameter",
                                "-Wno-missing-field-initializers", "-Wno-cast-function-type"],
        )
    ] if NATIVE else [],
)
