SUMMARY = "cellgate models and demo samples"
DESCRIPTION = "The shipped ONNX models (seal classifier with its encoder/head, electrode detector) \
               with their model cards, and the sample images the default config replays."
SECTION = "misc"

require recipes-cellgate/cellgate/cellgate-source.inc
# The models, cards and samples are the project's own work, under the repository's licence.
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

SRC_URI += "file://cellgate-models.conf"

# Data only, and nothing under ${libdir}: one package for every architecture (and multilib).
inherit allarch

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${datadir}/cellgate/onnx ${D}${datadir}/cellgate/samples ${D}${nonarch_libdir}/tmpfiles.d
    # Factory copies; the first boot copies the ones the station starts with to /etc/cellgate/models.
    install -m 0644 ${S}/onnx/*.onnx ${S}/onnx/*.md ${D}${datadir}/cellgate/onnx/
    cp -R --no-dereference --preserve=mode,links ${S}/scripts/demo/seal ${D}${datadir}/cellgate/samples/
    install -m 0644 ${UNPACKDIR}/cellgate-models.conf ${D}${nonarch_libdir}/tmpfiles.d/
}

FILES:${PN} += "${datadir}/cellgate/onnx \
                ${datadir}/cellgate/samples \
                ${nonarch_libdir}/tmpfiles.d/cellgate-models.conf"
