SUMMARY = "cellgate inspection station firmware"
DESCRIPTION = "Captures frames, runs the seal and electrode ONNX models with ONNX Runtime, decides \
               pass/fail and drives the GPIO reject outputs; runs as a systemd service."
HOMEPAGE = "https://github.com/cellgate/cellgate"
BUGTRACKER = "https://github.com/cellgate/cellgate/issues"
SECTION = "console/utils"
CVE_PRODUCT = "cellgate"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://Cargo.toml;beginline=7;endline=7;md5=2507bd5f0713f05419cd2f22fa06fe62"

# The V4L2 crate (v4l2-sys-mit) makes its kernel-header bindings with bindgen at build time: libclang from
# meta-clang, pointed at the target's headers.
DEPENDS += "clang-native"

# Every crate is fetched by the crate fetcher and pinned by its checksum, generated from Cargo.lock.
require ${BPN}-crates.inc

SRC_URI += "git://github.com/cellgate/cellgate.git;protocol=https;branch=main"
# The commit that is built; a release bumps it, together with cellgate-crates.inc from its Cargo.lock.
SRCREV = "6b18429f2aaea85c73ed0cca8d943089603f1dcb"

S = "${WORKDIR}/git"

export LIBCLANG_PATH = "${STAGING_LIBDIR_NATIVE}"
export BINDGEN_EXTRA_CLANG_ARGS = "--sysroot=${STAGING_DIR_TARGET}"

inherit cargo cargo-update-recipe-crates systemd useradd

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
    install -m 0644 ${S}/systemd/udev/60-cellgate-gpio.rules ${D}${nonarch_base_libdir}/udev/rules.d/
    install -d ${D}${datadir}/cellgate/examples
    install -m 0644 ${S}/systemd/examples/station-camera.json ${D}${datadir}/cellgate/examples/
}

FILES:${PN} += "${systemd_system_unitdir}/cellgate.service \
                ${nonarch_libdir}/tmpfiles.d/cellgate.conf \
                ${nonarch_base_libdir}/udev/rules.d/60-cellgate-gpio.rules \
                ${datadir}/cellgate/examples"

# ONNX Runtime is loaded at run time (ort load-dynamic): no build dependency, a run-time one.
RDEPENDS:${PN} += "onnxruntime"
