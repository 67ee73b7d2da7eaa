/* Attributes that let the compiler check the launcher's C (GCC and Clang). */
#ifndef CRYOPIPE_COMPILER_H
#define CRYOPIPE_COMPILER_H

/* The function never returns (it exits, execs or loops forever). */
#define NORETURN __attribute__((noreturn))
/* Argument `fmt` is a printf format for the arguments from `args` on. */
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))

#endif
