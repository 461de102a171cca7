/*
 * fuzz_provider_twilio.c — libFuzzer harness for the twilio provider's callback
 * parsers, authenticate, classify_send, build_send and renders. The input
 * format and the invariants checked are in fuzz_provider.h.
 */
#define FUZZ_PROVIDER provider_twilio
#include "tests/fuzz/fuzz_provider.h"
