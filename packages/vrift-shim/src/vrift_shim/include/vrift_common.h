/*
 * vrift_common.h — what every binary file vrift shares between the shim
 * and Python has in common. Included by vrift_profile.h and
 * vrift_manifest.h; like them it stays inside the C subset cffi parses
 * (vrift_shim.cdef_source inlines it for cffi).
 */
#ifndef VRIFT_COMMON_H
#define VRIFT_COMMON_H

/* Written as a native u32 by a file's creator: a reader on a machine of
 * the other byte order sees it reversed and refuses the file. */
#define VRIFT_BYTE_ORDER_MARK 0x01020304

#endif
