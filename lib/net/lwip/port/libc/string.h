// <string.h> for lwIP's freestanding build (capOS has no libc): the functions
// lwIP calls, as C declares them. lib/freestanding/mem.cpp defines the memory
// ones and strlen (user programs link it through their runtime); string.cpp
// beside this file defines the rest. Only lwIP's sources see this directory.
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void* memcpy(void* destination, const void* source, size_t count);
void* memmove(void* destination, const void* source, size_t count);
void* memset(void* destination, int value, size_t count);
int memcmp(const void* left, const void* right, size_t count);
void* memchr(const void* memory, int value, size_t count);
size_t strlen(const char* text);
int strncmp(const char* left, const char* right, size_t count);

#ifdef __cplusplus
}
#endif
