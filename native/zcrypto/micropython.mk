# MicroPython user C module `_zcrypto` (make-based ports, e.g. unix):
#   make -C ports/unix USER_C_MODULES=<this repo>/native
# The C core needs mbedTLS. A port that bundles its own (MICROPY_SSL_MBEDTLS) supplies headers and
# library; elsewhere (the unix port built without SSL) the system library is linked, and
# ZCRYPTO_MBEDTLS_LIBS can be overridden (empty when the port links mbedTLS itself).
ZCRYPTO_DIR := $(USERMOD_DIR)
ZCRYPTO_MBEDTLS_LIBS ?= -lmbedcrypto

SRC_USERMOD_C += $(ZCRYPTO_DIR)/zcrypto.c
SRC_USERMOD_C += $(ZCRYPTO_DIR)/zcrypto_p256.c
SRC_USERMOD_C += $(ZCRYPTO_DIR)/zcrypto_x86.c
SRC_USERMOD_C += $(ZCRYPTO_DIR)/zcrypto_mp.c
CFLAGS_USERMOD += -I$(ZCRYPTO_DIR)
LDFLAGS_USERMOD += $(ZCRYPTO_MBEDTLS_LIBS)
