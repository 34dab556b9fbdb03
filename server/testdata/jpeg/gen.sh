#!/bin/sh
# Regenerates the JPEGs that TestFlipPlanesMatchesImaging flips: one small
# picture with sharp colour edges at odd rows (where a chroma row out of
# place shows), encoded by libjpeg-turbo's cjpeg in every layout the fast
# path must handle. Needs ImageMagick (convert) and libjpeg-turbo-progs.
set -eu
cd "$(dirname "$0")"
src=$(mktemp --suffix=.ppm)
trap 'rm -f "$src"' EXIT
for size in 37x23 32x16 101x77; do
	w=${size%x*} h=${size#*x}
	/usr/bin/convert -size "$size" gradient:'#d02010-#1030e0' \
		-fill '#20c040' -draw "rectangle 3,3 $((w / 2)),$((h / 3))" \
		-fill '#f0e020' -draw "rectangle $((w / 3)),$((h / 2 + 1)) $((w - 4)),$((h - 3))" "$src"
	cjpeg -quality 92 -sample 2x2 "$src" >"s420-$size.jpg"
	cjpeg -quality 92 -sample 2x1 "$src" >"s422-$size.jpg"
	cjpeg -quality 92 -sample 1x1 "$src" >"s444-$size.jpg"
	cjpeg -quality 92 -sample 1x2 "$src" >"s440-$size.jpg"
	cjpeg -quality 92 -grayscale "$src" >"gray-$size.jpg"
	cjpeg -quality 92 -sample 2x2 -progressive "$src" >"progressive-$size.jpg"
	cjpeg -quality 92 -sample 2x2 -restart 1 "$src" >"restart-$size.jpg"
done
