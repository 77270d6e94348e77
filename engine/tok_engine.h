/*
 * tok engine: GGUF files, the forward pass of Llama-family models on the CPU,
 * samplers, and the backends the pipeline calls. Depends on libtok only.
 */
#ifndef TOK_ENGINE_H
#define TOK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tok.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
