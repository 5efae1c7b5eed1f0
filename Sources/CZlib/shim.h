#ifndef WB_CZLIB_SHIM_H
#define WB_CZLIB_SHIM_H
#include <zlib.h>
#endif
