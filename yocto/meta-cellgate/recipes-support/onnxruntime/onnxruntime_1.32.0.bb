SUMMARY = "ONNX Runtime inference engine (CPU execution provider)"
DESCRIPTION = "Microsoft's released ONNX Runtime shared library, the exact build the firmware is tested \
               with (scripts/setup.sh takes it from the same PyPI release), for the CPU execution provider. \
               The layer README says why it is not built from source here."
HOMEPAGE = "https://onnxruntime.ai"
BUGTRACKER = "https://github.com/microsoft/onnxruntime/issues"
SECTION = "libs"
# The product name only: its vendor in the CVE database was not checked from here.
CVE_PRODUCT = "onnxruntime"
# ONNX Runtime is MIT; ThirdPartyNotices.txt lists the components compiled into the library, with their
# notices, and goes into the image's licence manifest with it.
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://onnxruntime/LICENSE;md5=0f7e3b1308cb5c00b372a6e78835732d \
                    file://onnxruntime/ThirdPartyNotices.txt;md5=0273f4458ab21c4f04b2bf7b9c891f6c"

# The manylinux_2_28 wheel of the release: a zip whose onnxruntime/capi/ holds the C API library
# (libonnxruntime.so.1.32.0, soname libonnxruntime.so.1; needs glibc >= 2.28). Only the library is installed,
# none of the Python.
SRC_URI = "https://files.pythonhosted.org/packages/4a/8f/1e43fb994513c7c7a9c6965272ef89d963c1bd4080993a6267bf913701d1/onnxruntime-${PV}-cp312-cp312-manylinux_2_28_aarch64.whl;downloadfilename=onnxruntime-${PV}-manylinux_2_28_aarch64.zip;subdir=${BP}"
SRC_URI[sha256sum] = "e36c187006e7a7c8b8d6d57f1a209dd63f52430dca6c282b177718ad6b841054"
do_unpack[depends] += "unzip-native:do_populate_sysroot"

# The stations are aarch64 (Jetson Orin, RK3588); the release is built for that only here.
COMPATIBLE_HOST = "aarch64.*-linux"

# Nothing to configure or build: the release is installed as it is.
do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${libdir}
    install -m 0755 ${S}/onnxruntime/capi/libonnxruntime.so.${PV} ${D}${libdir}/
    ln -s libonnxruntime.so.${PV} ${D}${libdir}/libonnxruntime.so.1
    ln -s libonnxruntime.so.${PV} ${D}${libdir}/libonnxruntime.so
}

# libonnxruntime.so.1 (the soname the firmware loads) and the versioned file are in the main package by
# the default FILES; the unversioned link goes to onnxruntime-dev. Microsoft ships the library stripped:
# there is nothing to strip or to split into onnxruntime-dbg.
INHIBIT_PACKAGE_STRIP = "1"
INHIBIT_PACKAGE_DEBUG_SPLIT = "1"
