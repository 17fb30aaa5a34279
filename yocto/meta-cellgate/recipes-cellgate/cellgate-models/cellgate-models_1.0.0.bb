SUMMARY = "cellgate models, default station config and demo samples"
DESCRIPTION = "The shipped ONNX models (seal classifier with its encoder/head, electrode detector) \
               with their model cards, the default station config and the sample images it replays."
HOMEPAGE = "https://github.com/cellgate/cellgate"
BUGTRACKER = "https://github.com/cellgate/cellgate/issues"
SECTION = "misc"
CVE_PRODUCT = "cellgate"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://Cargo.toml;beginline=7;endline=7;md5=2507bd5f0713f05419cd2f22fa06fe62"

SRC_URI = "git://github.com/cellgate/cellgate.git;protocol=https;branch=main"
# The commit that is built; a release bumps it, together with cellgate-crates.inc from its Cargo.lock.
SRCREV = "06582f6d9a4425b5381c51fc6a1d75edc30e6679"

S = "${WORKDIR}/git"

inherit allarch

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${sysconfdir}/cellgate/models ${D}${datadir}/cellgate/onnx ${D}${datadir}/cellgate/samples
    # The image's ONNX Runtime is at its installed path, not beside the binary.
    sed -e 's#/usr/lib/cellgate/libonnxruntime.so#${libdir}/libonnxruntime.so#' \
        ${S}/systemd/station.json > ${D}${sysconfdir}/cellgate/station.json
    chmod 0644 ${D}${sysconfdir}/cellgate/station.json
    install -m 0644 ${S}/onnx/seal_classifier.onnx ${S}/onnx/seal_classifier.encoder.onnx \
        ${S}/onnx/seal_classifier.head.onnx ${D}${sysconfdir}/cellgate/models/
    install -m 0644 ${S}/onnx/*.onnx ${S}/onnx/*.md ${D}${datadir}/cellgate/onnx/
    cp -R --no-dereference --preserve=mode,links ${S}/scripts/demo/seal ${D}${datadir}/cellgate/samples/
}

# Technicians replace the models and edit the config on the station: keep their changes on upgrade.
CONFFILES:${PN} = "${sysconfdir}/cellgate/station.json \
                   ${sysconfdir}/cellgate/models/seal_classifier.onnx \
                   ${sysconfdir}/cellgate/models/seal_classifier.encoder.onnx \
                   ${sysconfdir}/cellgate/models/seal_classifier.head.onnx"
