/* A tiny built-in bitmap font for the client's overlay (SDL2 draws no text
 * and SDL_ttf is not a dependency): 5x7 pixel glyphs for the digits, the
 * letters (lower case is drawn as upper case) and common punctuation,
 * drawn in a 6x9 cell. */
#ifndef PVS_CLIENT_FONT_H
#define PVS_CLIENT_FONT_H

#include <stdint.h>

#define PVS_FONT_W 5
#define PVS_FONT_H 7
#define PVS_FONT_CELL_W 6
#define PVS_FONT_CELL_H 9

/* The glyph of `c`: PVS_FONT_H rows, bit 4 the leftmost pixel. A character
 * with no glyph gives '?'s; a space gives an empty glyph. Never NULL. */
const uint8_t *pvs_font_glyph(char c);

#endif
