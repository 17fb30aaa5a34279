SUMMARY = "cellgate inspection station"
DESCRIPTION = "Everything a station image needs: the firmware with its service, the models and \
               config, and ONNX Runtime (IMAGE_INSTALL:append = \" packagegroup-cellgate\")."
HOMEPAGE = "https://github.com/cellgate/cellgate"
BUGTRACKER = "https://github.com/cellgate/cellgate/issues"
SECTION = "misc"
LICENSE = "MIT"

inherit packagegroup

RDEPENDS:${PN} = "cellgate cellgate-models onnxruntime"
