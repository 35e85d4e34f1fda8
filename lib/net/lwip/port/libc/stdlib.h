// <stdlib.h> for lwIP's freestanding build: atoi (netif_find reads an
// interface number with it), defined in string.cpp beside this file. lwIP's
// malloc and free are not used (MEM_LIBC_MALLOC is 0: lwipopts.h).
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

int atoi(const char* text);

#ifdef __cplusplus
}
#endif
