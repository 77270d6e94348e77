/*
 * tok pipeline: templates, model registry and cost, context budgeting,
 * recipes and their runner. Depends on the engine and libtok.
 */
#ifndef TOK_PIPELINE_H
#define TOK_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tok.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- templates (Jinja subset) -------------------------------------------- */

/* ---- model registry and cost --------------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif
