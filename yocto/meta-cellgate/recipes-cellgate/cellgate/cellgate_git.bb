SUMMARY = "cellgate inspection station firmware"
DESCRIPTION = "Captures frames, runs the seal and electrode ONNX models with ONNX Runtime, decides \
               pass/fail and drives the GPIO reject outputs; runs as a systemd service."
SECTION = "console/utils"

# LICENSE: the firmware's own (Apache-2.0) and every linked crate's, generated from Cargo.lock.
require ${BPN}-licenses.inc
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# The V4L2 crate (v4l2-sys-mit) makes its kernel-header bindings with bindgen at build time: libclang
# (openembedded-core's clang-native), pointed at the target's headers.
DEPENDS += "clang-native"

require cellgate-source.inc
# Every crate is fetched by the crate fetcher and pinned by its checksum, generated from Cargo.lock.
require ${BPN}-crates.inc
SRC_URI += "file://cellgate-config.conf"

export LIBCLANG_PATH = "${STAGING_LIBDIR_NATIVE}"
export BINDGEN_EXTRA_CLANG_ARGS = "--sysroot=${STAGING_DIR_TARGET}"

# Cargo.toml's release profile strips the binary (for builds by hand). Here the image's packaging strips
# it and keeps the symbols in cellgate-dbg for crash analysis: no strip by cargo (QA already-stripped).
export CARGO_PROFILE_RELEASE_STRIP = "false"
export CARGO_PROFILE_RELEASE_DEBUG = "limited"

# The service is Type=notify with its sandboxing: a systemd image only.
REQUIRED_DISTRO_FEATURES = "systemd"

inherit cargo cargo-update-recipe-crates systemd useradd features_check

USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system gpio; --system video"
USERADD_PARAM:${PN} = "--system --no-create-home --home-dir ${localstatedir}/lib/cellgate \
                       --shell /sbin/nologin --groups video,gpio --user-group cellgate"

SYSTEMD_SERVICE:${PN} = "cellgate.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install:append() {
    install -d ${D}${systemd_system_unitdir} ${D}${nonarch_libdir}/tmpfiles.d ${D}${nonarch_base_libdir}/udev/rules.d
    install -m 0644 ${S}/systemd/cellgate.service ${D}${systemd_system_unitdir}/
    install -m 0644 ${S}/systemd/tmpfiles.d/cellgate.conf ${D}${nonarch_libdir}/tmpfiles.d/
    install -m 0644 ${UNPACKDIR}/cellgate-config.conf ${D}${nonarch_libdir}/tmpfiles.d/
    install -m 0644 ${S}/systemd/udev/60-cellgate-gpio.rules ${D}${nonarch_base_libdir}/udev/rules.d/
    install -d ${D}${datadir}/cellgate/examples ${D}${datadir}/cellgate/defaults
    install -m 0644 ${S}/systemd/examples/station-camera.json ${D}${datadir}/cellgate/examples/
    # The default config, copied to /etc/cellgate by the first boot (cellgate-config.conf). ONNX Runtime
    # by its soname, which the onnxruntime package ships (the unversioned .so is in onnxruntime-dev).
    sed -e 's#/usr/lib/cellgate/libonnxruntime.so#${libdir}/libonnxruntime.so.1#' \
        ${S}/systemd/station.json > ${D}${datadir}/cellgate/defaults/station.json
    chmod 0644 ${D}${datadir}/cellgate/defaults/station.json
    # The substitution must have happened: a default config pointing at a library the image lacks
    # would keep the station from starting.
    grep -q '"${libdir}/libonnxruntime.so.1"' ${D}${datadir}/cellgate/defaults/station.json
}

FILES:${PN} += "${systemd_system_unitdir}/cellgate.service \
                ${nonarch_libdir}/tmpfiles.d/cellgate.conf \
                ${nonarch_libdir}/tmpfiles.d/cellgate-config.conf \
                ${nonarch_base_libdir}/udev/rules.d/60-cellgate-gpio.rules \
                ${datadir}/cellgate/examples \
                ${datadir}/cellgate/defaults"

# ONNX Runtime is loaded at run time (ort load-dynamic) by its soname: no build dependency, a run-time one.
RDEPENDS:${PN} += "onnxruntime"
