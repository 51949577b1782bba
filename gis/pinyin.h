/* gis/pinyin.h - toneless pinyin readings of CJK characters (table generated from pinyin-pro). */
#ifndef GIS_PINYIN_H
#define GIS_PINYIN_H

/* The readings of codepoint cp (lower-case a-z, ü written v, most common first), at most max of
 * them, into out (static strings). Returns how many; 0 for a codepoint without a reading. */
int gis_pinyin_readings(unsigned int cp, const char **out, int max);

#endif
