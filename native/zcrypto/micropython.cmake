# MicroPython user C module `_zcrypto` (CMake-based ports, e.g. esp32):
#   make -C ports/esp32 USER_C_MODULES=<this repo>/native/zcrypto/micropython.cmake
# On ESP-IDF the C core links IDF's mbedTLS component, which drives the ESP32's AES, SHA and
# bignum accelerators.
add_library(usermod_zcrypto INTERFACE)

target_sources(usermod_zcrypto INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/zcrypto.c
    ${CMAKE_CURRENT_LIST_DIR}/zcrypto_p256.c
    ${CMAKE_CURRENT_LIST_DIR}/zcrypto_x86.c
    ${CMAKE_CURRENT_LIST_DIR}/zcrypto_mp.c
)

target_include_directories(usermod_zcrypto INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

if(TARGET idf::mbedtls)
    target_link_libraries(usermod_zcrypto INTERFACE idf::mbedtls)
endif()
# zc_entropy: esp_fill_random and the bootloader's entropy source (bootloader_random_enable)
if(TARGET idf::bootloader_support)
    target_link_libraries(usermod_zcrypto INTERFACE idf::bootloader_support)
endif()

target_link_libraries(usermod INTERFACE usermod_zcrypto)
