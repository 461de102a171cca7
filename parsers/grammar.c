/*
 * grammar.c — the SMS command grammar (see grammar.h for what it reads).
 *
 * Owns: the lexer pattern, the lexicon of keywords and field words in
 * English, Roman Urdu and Urdu script, and the report rules. Must not: do
 * I/O, log, or allocate per message beyond textnorm_fold() of non-ASCII
 * words and gazetteer_match() itself (the scratch space lives in the
 * struct tl_grammar, sized for the longest accepted message).
 *
 * Design. Three layers, each simple on its own:
 *
 *   Lexer. One PCRE2 pattern, compiled once with UTF, UCP, CASELESS and
 *   ANCHORED and JIT-compiled, is matched at successive offsets; its
 *   alternatives (in order: clock time, digit run, Urdu-script word, word,
 *   separator, dots, colon, joiner, any other character) each capture one
 *   lexeme. Digits are ASCII, Urdu ۰–۹ or Arabic-Indic ٠–٩. Afterwards dots
 *   after one-letter words ("M. Ali", "No. 5") become joiners, other dots
 *   separators; digit groups that together look like a phone number
 *   (phone_looks_like: "0300 12 34 567", "+92 300 1234567") merge into one
 *   phone lexeme, so their digits are never an age, a case or a PIN.
 *
 *   Lexicon. Words are folded (ASCII lowered in place; anything else by
 *   textnorm_fold) and looked up in a hash table built at grammar_new from
 *   the seed table below. An entry carries flag bits (keyword, label,
 *   number word, unit, gender, filler, …), the command of a keyword, the
 *   value of a number word and a language bit (English or Roman Urdu; Urdu
 *   script needs none). Keywords of five code points or more also match a
 *   word within edit distance 1 (2 from eight code points) sharing their
 *   first letter.
 *
 *   Parser. Command detection and argument reading work on lexemes (see
 *   grammar.h). A report's body is read in passes that give each lexeme a
 *   role: last-seen marker and its text; phone numbers (dropped, kept in
 *   `contact`); clock times; the age (labelled, then "N years"/"N saal",
 *   then a bare one- or two-digit number or number word); gender words;
 *   labels ("name:", "umar", "علاقہ") that bind the words after them;
 *   fillers ("meri", "se", "hai", "کا"). Whatever is left forms runs of
 *   free words. Runs that hold an area name (exact gazetteer match inside a
 *   longer run) are split around it. The name is the first run that is not
 *   an area, not a description and not marked as a place ("X se", "near
 *   X"); the area the best-matching other run (an exact match beats a fuzzy
 *   one, a run marked as a place wins ties); the other runs are the
 *   description. With no area among the runs, the last-seen text is
 *   searched for one.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "parsers/grammar.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/result.h"
#include "common/utf8.h"
#include "common/xmalloc.h"
#include "parsers/phone.h"
#include "parsers/textnorm.h"

/* ---------------------------------------------------------------- lexer --- */

/* Digits of the three scripts people type numbers in. */
#define D "[0-9\\x{660}-\\x{669}\\x{6F0}-\\x{6F9}]"
/* Separators between fields: , ; ! ? | Arabic comma, semicolon, question
 * mark, Urdu full stop, line breaks. */
#define SEPC "[,;!?|\\x{60C}\\x{61B}\\x{61F}\\x{6D4}\\v]"

static const char lex_pattern[] =
    "[\\h\\p{Cf}]*+(?:"
    /* 1 clock time: 4pm, 4:30 p.m., 5 baje, ۵ بجے, 16:00 */
    "(" D "{1,2}(?:[:.]" D "{2})?\\h?(?:[ap]m\\b|[ap]\\.m\\b\\.?|baje\\b|bje\\b|bajay\\b|"
    "\\x{628}\\x{62C}\\x{6D2})|" D "{1,2}:" D "{2}(?!" D "))"
    /* 2 digit run, optional leading '+', optional decimals */
    "|(\\+?" D "++(?:\\." D "++)?)"
    /* 3 Urdu-script word */
    "|((?=\\p{Arabic})\\p{L}[\\p{L}\\p{M}\\p{Cf}]*+)"
    /* 4 word (apostrophes inside: D'souza) */
    "|(\\p{L}(?:[\\p{L}\\p{M}\\p{Cf}]|['\\x{2019}](?=\\p{L}))*+)"
    /* 5 separators */
    "|(" SEPC "(?:[\\h\\p{Cf}]*+" SEPC ")*+)"
    /* 6 dots */
    "|(\\.++)"
    /* 7 colon */
    "|([:=])"
    /* 8 joiners inside a name or an area: Gulshan-e-Iqbal, s/o */
    "|([-\\x{2010}-\\x{2015}_/&'\\x{2019}])"
    /* 9 anything else */
    "|(?s:(.))"
    ")";

enum lx_type {
    LX_TIME = 1, /* numbers = the pattern's groups */
    LX_NUM = 2,
    LX_AWORD = 3,
    LX_WORD = 4,
    LX_SEP = 5,
    LX_DOT = 6,
    LX_COLON = 7,
    LX_JOIN = 8,
    LX_OTHER = 9,
    LX_PHONE = 10, /* digit groups merged after lexing */
};

enum lx_role {
    R_FREE = 0, /* not yet explained: becomes name, area or description */
    R_KW,       /* the command keyword */
    R_FILL,     /* function words, greetings, extra keywords */
    R_AGE,
    R_GENDER,
    R_LABEL,
    R_LSMARK, /* "last seen", "aakhri baar" */
    R_LS,     /* the text after it */
    R_TIME,   /* a clock time or time word outside last-seen text */
    R_DROP,   /* phone numbers and the "call"/"contact" before them */
    R_ARG,    /* case number, PIN */
};

/* Fields a label binds its words to, and what a run became. */
enum fld { FLD_NONE = 0, FLD_NAME, FLD_AREA, FLD_DESC };

struct lexent;

struct lexeme {
    size_t s, e;       /* bytes [s, e) of the message */
    size_t fold, nfold; /* folded word in the fold arena (words only) */
    const struct lexent *ent;
    long val;     /* value of a digit run's integer part */
    uint8_t type; /* enum lx_type */
    uint8_t role; /* enum lx_role */
    uint8_t field; /* enum fld from a label */
    uint8_t out;   /* enum fld given by the parser */
    uint8_t ndig;  /* digits before any decimal point (capped at 255) */
    bool frac;     /* has decimals */
    bool plus;     /* leading '+' */
    uint8_t ncp;   /* code points of a word (capped at 255) */
};

/* ---------------------------------------------------------------- lexicon --- */

#define BIT(n) (UINT64_C(1) << (n))
#define F_EN BIT(0)        /* English evidence */
#define F_RO BIT(1)        /* Roman Urdu evidence */
#define F_KW BIT(2)        /* a command keyword (cmd) */
#define F_ANY BIT(3)       /* ... also when not the first word */
#define F_BAND BIT(4)      /* BAND: CLOSE before a case number, else UNSUBSCRIBE */
#define F_MIL BIT(5)       /* "mil" of "mil gaya" */
#define F_KHO BIT(6)       /* "kho" of "kho gaya" */
#define F_GAYA BIT(7)      /* gaya, gayi, گیا … */
#define F_KARO BIT(8)      /* karo, kar do … after BAND */
#define F_LAST1 BIT(9)     /* last, aakhri, آخری */
#define F_LAST2 BIT(10)    /* seen, baar, بار */
#define F_SEENW BIT(11)    /* dekha … after "aakhri baar" */
#define F_LNAME BIT(12)    /* labels */
#define F_LAGE BIT(13)
#define F_LAREA BIT(14)
#define F_LGENDER BIT(15)
#define F_LDESC BIT(16)
#define F_NUMW BIT(17)     /* number word (num) */
#define F_SOLO BIT(18)     /* English number word that is an age on its own */
#define F_UNIT_Y BIT(19)   /* years */
#define F_UNIT_M BIT(20)   /* months */
#define F_UNIT_T BIT(21)   /* days, hours: a time */
#define F_OLD BIT(22)      /* "old" of "8 years old" */
#define F_AGED BIT(23)     /* "aged 8" */
#define F_MALE BIT(24)
#define F_FEMALE BIT(25)
#define F_WMALE BIT(26)    /* verb agreement: gaya, khoya, گیا */
#define F_WFEMALE BIT(27)  /* gayi, khoyi, گئی */
#define F_KA_M BIT(28)     /* "ka" right after an age: a boy */
#define F_KA_F BIT(29)     /* "ki" right after an age: a girl */
#define F_MF BIT(30)       /* M / F */
#define F_FILL BIT(31)
#define F_LOC_PRE BIT(32)  /* near, in, from: a place follows */
#define F_LOC_POST BIT(33) /* se, mein, سے, پاس: a place precedes */
#define F_DESC BIT(34)     /* colours, clothes, looks */
#define F_TIMEW BIT(35)    /* yesterday, kal, شام */
#define F_AGO BIT(36)      /* ago, pehle */
#define F_ADDR BIT(37)     /* block, sector, no: the number after is no age */
#define F_CONTACT BIT(38)  /* call, phone: before a phone number */
#define F_CASEW BIT(39)    /* case, no, number: before a case number */
#define F_PINW BIT(40)     /* pin, code */
#define F_POLITE BIT(41)   /* please, salam: skipped before a keyword */
#define F_PLACE BIT(42)    /* school, masjid: a place but no area name */
#define F_NAMELIKE BIT(43) /* a label that is also a common name: Umar, عمر */
#define F_WEAR BIT(44)     /* wearing, pehna: a description starts */
#define F_THING BIT(46)    /* phone, wallet, bike: things that go missing, not children */
#define F_NAHI BIT(45)     /* nahi, نہیں: "nahi mil raha" says someone is missing */

#define F_LABELS (F_LNAME | F_LAGE | F_LAREA | F_LGENDER | F_LDESC)

struct lex_seed {
    const char *w;
    uint64_t f;
    uint8_t cmd;
    int8_t num;
};

#define KW(w, f, c) {w, (f) | F_KW, (uint8_t)(c), 0}
#define NW(w, f, v) {w, (f) | F_NUMW, 0, v}
#define W(w, f) {w, f, 0, 0}

#define RPT TL_CMD_REPORT
#define SUB TL_CMD_SUBSCRIBE
#define UNS TL_CMD_UNSUBSCRIBE
#define SIG TL_CMD_SIGHTING
#define STA TL_CMD_STATUS
#define HLP TL_CMD_HELP
#define ARS TL_CMD_AREAS
#define VER TL_CMD_VERIFY
#define FND TL_CMD_FOUND
#define CLS TL_CMD_CLOSE
#define CAN TL_CMD_CANCEL
#define WID TL_CMD_WIDEN

/*
 * The lexicon. A word may appear on several lines; its flags are merged
 * (the first line giving a command or a number keeps it). Urdu-script words
 * are written as UTF-8 and folded like the messages, so ي/ی, ك/ک and ه/ہ
 * variants all match. The first spelling of a keyword is what
 * tl_sms_parse.keyword reports for it.
 */
static const struct lex_seed lex_seeds[] = {
    /* report: anywhere in the message */
    KW("missing", F_EN | F_ANY, RPT),
    KW("lost", F_EN | F_ANY, RPT),
    KW("kidnapped", F_EN | F_ANY, RPT),
    KW("abducted", F_EN | F_ANY, RPT),
    KW("report", F_EN, RPT),
    KW("lapata", F_RO | F_ANY, RPT),
    KW("laapata", F_RO | F_ANY, RPT),
    KW("gumshuda", F_RO | F_ANY, RPT),
    KW("gumshudah", F_RO | F_ANY, RPT),
    KW("gum", F_RO | F_ANY, RPT),
    KW("khoya", F_RO | F_ANY | F_WMALE, RPT),
    KW("khoyi", F_RO | F_ANY | F_WFEMALE, RPT),
    KW("khoi", F_RO | F_ANY | F_WFEMALE, RPT),
    KW("khoye", F_RO | F_ANY, RPT),
    KW("agwa", F_RO | F_ANY, RPT),
    KW("گمشدہ", F_ANY, RPT),
    KW("لاپتہ", F_ANY, RPT),
    KW("لاپتا", F_ANY, RPT),
    KW("گم", F_ANY, RPT),
    KW("کھویا", F_ANY | F_WMALE, RPT),
    KW("کھوئی", F_ANY | F_WFEMALE, RPT),
    KW("اغوا", F_ANY, RPT),
    W("kho", F_RO | F_KHO),
    KW("ghayab", F_RO | F_ANY, RPT),
    KW("gayab", F_RO | F_ANY, RPT),
    KW("ghaib", F_RO | F_ANY, RPT),
    KW("غائب", F_ANY, RPT),
    KW("غایب", F_ANY, RPT),
    W("mobile", F_EN | F_THING),
    W("wallet", F_EN | F_THING),
    W("purse", F_EN | F_THING),
    W("bag", F_EN | F_THING),
    W("bike", F_EN | F_THING),
    W("car", F_EN | F_THING),
    W("cycle", F_EN | F_THING),
    W("keys", F_EN | F_THING),
    W("cat", F_EN | F_THING),
    W("dog", F_EN | F_THING),
    W("goat", F_EN | F_THING),
    W("bakri", F_RO | F_THING),
    W("batwa", F_RO | F_THING),
    W("mobail", F_RO | F_THING),
    W("موبائل", F_THING),
    W("فون", F_THING),
    W("nahi", F_RO | F_NAHI | F_FILL),
    W("o", F_RO | F_FILL), /* assalam o alaikum */
    W("رہی", F_FILL),
    W("رہا", F_FILL),
    W("رہے", F_FILL),
    W("nahin", F_RO | F_NAHI | F_FILL),
    W("nai", F_RO | F_NAHI | F_FILL),
    W("نہیں", F_NAHI | F_FILL),
    W("shuda", F_RO | F_FILL), /* gum shuda */
    W("شدہ", F_FILL),          /* گم شدہ */
    W("کھو", F_KHO),
    /* subscribe */
    KW("join", F_EN, SUB),
    KW("jion", F_EN, SUB),
    KW("sub", F_EN, SUB),
    KW("subscribe", F_EN, SUB),
    KW("start", F_EN, SUB),
    KW("shamil", F_RO, SUB),
    KW("shaamil", F_RO, SUB),
    KW("شامل", 0, SUB),
    /* unsubscribe */
    KW("stop", F_EN | F_ANY, UNS),
    KW("unsub", F_EN | F_ANY, UNS),
    KW("unsubscribe", F_EN | F_ANY, UNS),
    KW("leave", F_EN, UNS),
    KW("quit", F_EN, UNS),
    KW("end", F_EN, UNS),
    KW("band", F_RO | F_BAND, UNS),
    KW("بند", F_BAND, UNS),
    /* sighting */
    KW("seen", F_EN | F_LAST2, SIG),
    KW("saw", F_EN, SIG),
    KW("sighting", F_EN, SIG),
    KW("sighted", F_EN, SIG),
    KW("dekha", F_RO | F_SEENW, SIG),
    KW("dekhi", F_RO | F_SEENW, SIG),
    KW("dekhe", F_RO | F_SEENW, SIG),
    KW("دیکھا", F_SEENW, SIG),
    KW("دیکھی", F_SEENW, SIG),
    KW("دیکھے", F_SEENW, SIG),
    /* status */
    KW("status", F_EN, STA),
    KW("haalat", F_RO, STA),
    KW("halat", F_RO, STA),
    KW("حالت", 0, STA),
    /* help */
    KW("help", F_EN | F_ANY, HLP),
    KW("madad", F_RO | F_ANY, HLP),
    KW("مدد", F_ANY, HLP),
    /* areas */
    KW("areas", F_EN, ARS),
    KW("ilaqe", F_RO, ARS),
    KW("ilaqay", F_RO, ARS),
    KW("ilaaqe", F_RO, ARS),
    KW("elaqe", F_RO, ARS),
    KW("علاقے", 0, ARS),
    /* police: verify */
    KW("verify", F_EN, VER),
    KW("verified", F_EN, VER),
    KW("confirm", F_EN, VER),
    KW("tasdeeq", F_RO, VER),
    KW("tasdiq", F_RO, VER),
    KW("تصدیق", 0, VER),
    /* found; "mil gaya" / "مل گیا" anywhere */
    KW("found", F_EN, FND),
    KW("recovered", F_EN, FND),
    KW("mila", F_RO, FND),
    KW("mili", F_RO, FND),
    KW("mil", F_RO | F_MIL, FND),
    KW("ملا", 0, FND),
    KW("ملی", 0, FND),
    KW("مل", F_MIL, FND),
    /* close, cancel, widen */
    KW("close", F_EN, CLS),
    KW("closed", F_EN, CLS),
    KW("khatam", F_RO, CLS),
    KW("ختم", 0, CLS),
    KW("cancel", F_EN, CAN),
    KW("cancelled", F_EN, CAN),
    KW("canceled", F_EN, CAN),
    KW("mansookh", F_RO, CAN),
    KW("mansukh", F_RO, CAN),
    KW("منسوخ", 0, CAN),
    KW("widen", F_EN, WID),
    KW("barhao", F_RO, WID),
    KW("badhao", F_RO, WID),
    KW("phelao", F_RO, WID),
    KW("phailao", F_RO, WID),
    KW("بڑھاؤ", 0, WID),
    KW("پھیلاؤ", 0, WID),

    /* second words of two-word phrases */
    W("gaya", F_RO | F_GAYA | F_WMALE | F_FILL),
    W("gya", F_RO | F_GAYA | F_WMALE | F_FILL),
    W("gaye", F_RO | F_GAYA | F_FILL),
    W("gae", F_RO | F_GAYA | F_FILL),
    W("gayi", F_RO | F_GAYA | F_WFEMALE | F_FILL),
    W("gai", F_RO | F_GAYA | F_WFEMALE | F_FILL),
    W("gyi", F_RO | F_GAYA | F_WFEMALE | F_FILL),
    W("gayee", F_RO | F_GAYA | F_WFEMALE | F_FILL),
    W("گیا", F_GAYA | F_WMALE | F_FILL),
    W("گئی", F_GAYA | F_WFEMALE | F_FILL),
    W("گئے", F_GAYA | F_FILL),
    W("karo", F_RO | F_KARO | F_FILL),
    W("kardo", F_RO | F_KARO | F_FILL),
    W("kar", F_RO | F_KARO | F_FILL),
    W("kr", F_RO | F_KARO | F_FILL),
    W("dein", F_RO | F_KARO | F_FILL),
    W("den", F_KARO | F_FILL),
    W("کرو", F_KARO | F_FILL),
    W("کر", F_KARO | F_FILL),
    W("دیں", F_KARO | F_FILL),
    W("کریں", F_KARO | F_FILL),

    /* last seen */
    W("last", F_EN | F_LAST1),
    W("aakhri", F_RO | F_LAST1),
    W("akhri", F_RO | F_LAST1),
    W("aakhari", F_RO | F_LAST1),
    W("akhiri", F_RO | F_LAST1),
    W("aakhiri", F_RO | F_LAST1),
    W("آخری", F_LAST1),
    W("baar", F_RO | F_LAST2),
    W("bar", F_LAST2),
    W("dafa", F_RO | F_LAST2),
    W("dafaa", F_RO | F_LAST2),
    W("martaba", F_RO | F_LAST2),
    W("بار", F_LAST2),
    W("دفعہ", F_LAST2),
    W("مرتبہ", F_LAST2),

    /* labels */
    W("name", F_EN | F_LNAME),
    W("named", F_EN | F_LNAME),
    W("called", F_EN | F_LNAME),
    W("naam", F_RO | F_LNAME),
    W("nam", F_RO | F_LNAME),
    W("نام", F_LNAME),
    W("age", F_EN | F_LAGE),
    W("umar", F_RO | F_LAGE | F_NAMELIKE),
    W("umr", F_RO | F_LAGE),
    W("umer", F_RO | F_LAGE | F_NAMELIKE),
    W("عمر", F_LAGE | F_NAMELIKE),
    W("aged", F_EN | F_AGED),
    W("area", F_EN | F_LAREA),
    W("location", F_EN | F_LAREA),
    W("place", F_EN | F_LAREA),
    W("address", F_EN | F_LAREA),
    W("ilaqa", F_RO | F_LAREA),
    W("ilaqah", F_RO | F_LAREA),
    W("ilaaqa", F_RO | F_LAREA),
    W("elaqa", F_RO | F_LAREA),
    W("ilaka", F_RO | F_LAREA),
    W("jagah", F_RO | F_LAREA),
    W("jaga", F_RO | F_LAREA),
    W("علاقہ", F_LAREA),
    W("جگہ", F_LAREA),
    W("gender", F_EN | F_LGENDER),
    W("sex", F_EN | F_LGENDER),
    W("jins", F_RO | F_LGENDER),
    W("جنس", F_LGENDER),
    W("description", F_EN | F_LDESC),
    W("desc", F_EN | F_LDESC),
    W("details", F_EN | F_LDESC),
    W("detail", F_EN | F_LDESC),
    W("hulia", F_RO | F_LDESC),
    W("hulya", F_RO | F_LDESC),
    W("huliya", F_RO | F_LDESC),
    W("حلیہ", F_LDESC),

    /* number words */
    NW("one", F_EN, 1),
    NW("two", F_EN | F_SOLO, 2),
    NW("three", F_EN | F_SOLO, 3),
    NW("four", F_EN | F_SOLO, 4),
    NW("five", F_EN | F_SOLO, 5),
    NW("six", F_EN | F_SOLO, 6),
    NW("seven", F_EN | F_SOLO, 7),
    NW("eight", F_EN | F_SOLO, 8),
    NW("nine", F_EN | F_SOLO, 9),
    NW("ten", F_EN | F_SOLO, 10),
    NW("eleven", F_EN | F_SOLO, 11),
    NW("twelve", F_EN | F_SOLO, 12),
    NW("thirteen", F_EN | F_SOLO, 13),
    NW("fourteen", F_EN | F_SOLO, 14),
    NW("fifteen", F_EN | F_SOLO, 15),
    NW("sixteen", F_EN | F_SOLO, 16),
    NW("seventeen", F_EN | F_SOLO, 17),
    NW("eighteen", F_EN | F_SOLO, 18),
    NW("ek", F_RO, 1),
    NW("aik", F_RO, 1),
    NW("do", 0, 2),
    NW("teen", F_RO, 3),
    NW("tin", 0, 3),
    NW("char", F_RO, 4),
    NW("chaar", F_RO, 4),
    NW("panch", F_RO, 5),
    NW("paanch", F_RO, 5),
    NW("panj", F_RO, 5),
    NW("chhe", F_RO, 6),
    NW("chhay", F_RO, 6),
    NW("chay", F_RO, 6),
    NW("che", F_RO, 6),
    NW("chah", F_RO, 6),
    NW("chheh", F_RO, 6),
    NW("saat", F_RO, 7),
    NW("sat", 0, 7),
    NW("aath", F_RO, 8),
    NW("aat", F_RO, 8),
    NW("ath", F_RO, 8),
    NW("nau", F_RO, 9),
    NW("nao", F_RO, 9),
    NW("das", F_RO, 10),
    NW("dus", F_RO, 10),
    NW("gyarah", F_RO, 11),
    NW("gyara", F_RO, 11),
    NW("giyarah", F_RO, 11),
    NW("barah", F_RO, 12),
    NW("bara", F_RO, 12),
    NW("baara", F_RO, 12),
    NW("terah", F_RO, 13),
    NW("tera", F_RO, 13),
    NW("chaudah", F_RO, 14),
    NW("chauda", F_RO, 14),
    NW("choda", F_RO, 14),
    NW("pandrah", F_RO, 15),
    NW("pandra", F_RO, 15),
    NW("solah", F_RO, 16),
    NW("sola", F_RO, 16),
    NW("satrah", F_RO, 17),
    NW("satra", F_RO, 17),
    NW("atharah", F_RO, 18),
    NW("athara", F_RO, 18),
    NW("dedh", F_RO, 1),
    NW("dhai", F_RO, 2),
    NW("dhaai", F_RO, 2),
    NW("derh", F_RO, 1),
    NW("ڈیڑھ", 0, 1), /* 1.5: ages are whole years, rounded down */
    NW("ڈھائی", 0, 2), /* 2.5 */
    NW("ایک", 0, 1),
    NW("دو", F_KARO, 2),
    NW("تین", 0, 3),
    NW("چار", 0, 4),
    NW("پانچ", 0, 5),
    NW("چھ", 0, 6),
    NW("چھے", 0, 6),
    NW("سات", 0, 7),
    NW("آٹھ", 0, 8),
    NW("نو", 0, 9),
    NW("دس", 0, 10),
    NW("گیارہ", 0, 11),
    NW("بارہ", 0, 12),
    NW("تیرہ", 0, 13),
    NW("چودہ", 0, 14),
    NW("پندرہ", 0, 15),
    NW("سولہ", 0, 16),
    NW("سترہ", 0, 17),
    NW("اٹھارہ", 0, 18),
    W("do", F_KARO),

    /* units */
    W("year", F_EN | F_UNIT_Y),
    W("years", F_EN | F_UNIT_Y),
    W("yr", F_EN | F_UNIT_Y),
    W("yrs", F_EN | F_UNIT_Y),
    W("y", F_UNIT_Y),
    W("yo", F_EN | F_UNIT_Y),
    W("saal", F_RO | F_UNIT_Y),
    W("sal", F_RO | F_UNIT_Y),
    W("sala", F_RO | F_UNIT_Y),
    W("saala", F_RO | F_UNIT_Y),
    W("baras", F_RO | F_UNIT_Y),
    W("baris", F_RO | F_UNIT_Y),
    W("سال", F_UNIT_Y),
    W("سالہ", F_UNIT_Y),
    W("برس", F_UNIT_Y),
    W("month", F_EN | F_UNIT_M),
    W("months", F_EN | F_UNIT_M),
    W("mahine", F_RO | F_UNIT_M),
    W("mahinay", F_RO | F_UNIT_M),
    W("mahina", F_RO | F_UNIT_M),
    W("maheene", F_RO | F_UNIT_M),
    W("maah", F_RO | F_UNIT_M),
    W("ماہ", F_UNIT_M),
    W("مہینے", F_UNIT_M),
    W("مہینہ", F_UNIT_M),
    W("day", F_EN | F_UNIT_T),
    W("days", F_EN | F_UNIT_T),
    W("hour", F_EN | F_UNIT_T),
    W("hours", F_EN | F_UNIT_T),
    W("hrs", F_EN | F_UNIT_T),
    W("hr", F_EN | F_UNIT_T),
    W("din", F_RO | F_UNIT_T),
    W("dino", F_RO | F_UNIT_T),
    W("dinon", F_RO | F_UNIT_T),
    W("ghante", F_RO | F_UNIT_T),
    W("ghanta", F_RO | F_UNIT_T),
    W("ghantay", F_RO | F_UNIT_T),
    W("دن", F_UNIT_T),
    W("گھنٹے", F_UNIT_T),
    W("گھنٹہ", F_UNIT_T),
    W("old", F_EN | F_OLD),
    W("ka", F_RO | F_KA_M | F_FILL),
    W("ki", F_RO | F_KA_F | F_FILL),
    W("ke", F_RO | F_FILL),
    W("k", F_FILL),
    W("کا", F_KA_M | F_FILL),
    W("کی", F_KA_F | F_FILL),
    W("کے", F_FILL),

    /* gender */
    W("boy", F_EN | F_MALE),
    W("male", F_EN | F_MALE),
    W("son", F_EN | F_MALE),
    W("brother", F_EN | F_MALE),
    W("nephew", F_EN | F_MALE),
    W("grandson", F_EN | F_MALE),
    W("larka", F_RO | F_MALE),
    W("ladka", F_RO | F_MALE),
    W("larkaa", F_RO | F_MALE),
    W("beta", F_RO | F_MALE),
    W("bacha", F_RO | F_MALE),
    W("bachha", F_RO | F_MALE),
    W("baccha", F_RO | F_MALE),
    W("bhai", F_RO | F_MALE),
    W("bhatija", F_RO | F_MALE),
    W("bhanja", F_RO | F_MALE),
    W("pota", F_RO | F_MALE),
    W("nawasa", F_RO | F_MALE),
    W("لڑکا", F_MALE),
    W("بیٹا", F_MALE),
    W("بچہ", F_MALE),
    W("بھائی", F_MALE),
    W("بھتیجا", F_MALE),
    W("بھانجا", F_MALE),
    W("پوتا", F_MALE),
    W("نواسا", F_MALE),
    W("girl", F_EN | F_FEMALE),
    W("female", F_EN | F_FEMALE),
    W("daughter", F_EN | F_FEMALE),
    W("sister", F_EN | F_FEMALE),
    W("niece", F_EN | F_FEMALE),
    W("granddaughter", F_EN | F_FEMALE),
    W("larki", F_RO | F_FEMALE),
    W("ladki", F_RO | F_FEMALE),
    W("larkee", F_RO | F_FEMALE),
    W("beti", F_RO | F_FEMALE),
    W("bachi", F_RO | F_FEMALE),
    W("bachhi", F_RO | F_FEMALE),
    W("bacchi", F_RO | F_FEMALE),
    W("behen", F_RO | F_FEMALE),
    W("bahen", F_RO | F_FEMALE),
    W("behan", F_RO | F_FEMALE),
    W("bhatiji", F_RO | F_FEMALE),
    W("bhanji", F_RO | F_FEMALE),
    W("poti", F_RO | F_FEMALE),
    W("nawasi", F_RO | F_FEMALE),
    W("لڑکی", F_FEMALE),
    W("بیٹی", F_FEMALE),
    W("بچی", F_FEMALE),
    W("بہن", F_FEMALE),
    W("بھتیجی", F_FEMALE),
    W("بھانجی", F_FEMALE),
    W("پوتی", F_FEMALE),
    W("نواسی", F_FEMALE),
    W("m", F_MF),
    W("f", F_MF),
    W("hua", F_RO | F_WMALE | F_FILL),
    W("tha", F_RO | F_WMALE | F_FILL),
    W("wala", F_RO | F_WMALE | F_FILL),
    W("hogaya", F_RO | F_WMALE | F_FILL),
    W("hogya", F_RO | F_WMALE | F_FILL),
    W("ہوا", F_WMALE | F_FILL),
    W("تھا", F_WMALE | F_FILL),
    W("والا", F_WMALE | F_FILL),
    W("hui", F_RO | F_WFEMALE | F_FILL),
    W("thi", F_RO | F_WFEMALE | F_FILL),
    W("wali", F_RO | F_WFEMALE | F_FILL),
    W("hogayi", F_RO | F_WFEMALE | F_FILL),
    W("hogyi", F_RO | F_WFEMALE | F_FILL),
    W("ہوئی", F_WFEMALE | F_FILL),
    W("تھی", F_WFEMALE | F_FILL),
    W("والی", F_WFEMALE | F_FILL),

    /* places around a name: near X, X se, X ke paas */
    W("near", F_EN | F_LOC_PRE | F_FILL),
    W("nr", F_EN | F_LOC_PRE | F_FILL),
    W("in", F_EN | F_LOC_PRE | F_FILL),
    W("at", F_EN | F_LOC_PRE | F_FILL),
    W("from", F_EN | F_LOC_PRE | F_FILL),
    W("around", F_EN | F_LOC_PRE | F_FILL),
    W("outside", F_EN | F_LOC_PRE | F_FILL),
    W("opposite", F_EN | F_LOC_PRE | F_FILL),
    W("se", F_RO | F_LOC_POST | F_FILL),
    W("say", F_LOC_POST | F_FILL),
    W("sy", F_RO | F_LOC_POST | F_FILL),
    W("sey", F_RO | F_LOC_POST | F_FILL),
    W("mein", F_RO | F_LOC_POST | F_FILL),
    W("main", F_LOC_POST | F_FILL),
    W("me", F_LOC_POST | F_FILL),
    W("mai", F_RO | F_LOC_POST | F_FILL),
    W("paas", F_RO | F_LOC_POST | F_FILL),
    W("pass", F_LOC_POST | F_FILL),
    W("pas", F_RO | F_LOC_POST | F_FILL),
    W("qareeb", F_RO | F_LOC_POST | F_FILL),
    W("kareeb", F_RO | F_LOC_POST | F_FILL),
    W("nazdeek", F_RO | F_LOC_POST | F_FILL),
    W("سے", F_LOC_POST | F_FILL),
    W("میں", F_LOC_POST | F_FILL),
    W("پاس", F_LOC_POST | F_FILL),
    W("قریب", F_LOC_POST | F_FILL),
    W("نزدیک", F_LOC_POST | F_FILL),

    /* fillers: English */
    W("my", F_EN | F_FILL),
    W("our", F_EN | F_FILL),
    W("the", F_EN | F_FILL),
    W("a", F_FILL),
    W("an", F_EN | F_FILL),
    W("is", F_EN | F_FILL),
    W("was", F_EN | F_FILL),
    W("are", F_EN | F_FILL),
    W("were", F_EN | F_FILL),
    W("has", F_EN | F_FILL),
    W("have", F_EN | F_FILL),
    W("had", F_EN | F_FILL),
    W("been", F_EN | F_FILL),
    W("be", F_EN | F_FILL),
    W("of", F_EN | F_FILL),
    W("and", F_EN | F_FILL),
    W("with", F_EN | F_FILL),
    W("to", F_FILL),
    W("his", F_EN | F_FILL),
    W("her", F_EN | F_FILL),
    W("he", F_FILL),
    W("she", F_EN | F_FILL),
    W("him", F_EN | F_FILL),
    W("it", F_EN | F_FILL),
    W("its", F_EN | F_FILL),
    W("this", F_EN | F_FILL),
    W("that", F_EN | F_FILL),
    W("child", F_EN | F_FILL),
    W("kid", F_EN | F_FILL),
    W("baby", F_EN | F_FILL),
    W("infant", F_EN | F_FILL),
    W("i", F_EN | F_FILL),
    W("we", F_EN | F_FILL),
    W("am", F_EN | F_FILL),
    W("not", F_EN | F_FILL),
    W("since", F_EN | F_FILL),
    W("urgent", F_EN | F_FILL),
    W("urgently", F_EN | F_FILL),
    W("also", F_EN | F_FILL),
    W("for", F_EN | F_FILL),
    W("on", F_EN | F_FILL),
    W("by", F_EN | F_FILL),
    W("you", F_EN | F_FILL),
    W("thanks", F_EN | F_FILL),
    W("thank", F_EN | F_FILL),
    W("home", F_EN | F_FILL),
    W("house", F_EN | F_ADDR),
    /* fillers: Roman Urdu */
    W("mera", F_RO | F_FILL),
    W("meri", F_RO | F_FILL),
    W("mere", F_RO | F_FILL),
    W("hamara", F_RO | F_FILL),
    W("hamari", F_RO | F_FILL),
    W("hamare", F_RO | F_FILL),
    W("hum", F_RO | F_FILL),
    W("ko", F_RO | F_FILL),
    W("ne", F_RO | F_FILL),
    W("par", F_RO | F_FILL),
    W("pe", F_RO | F_FILL),
    W("hai", F_RO | F_FILL),
    W("hain", F_RO | F_FILL),
    W("hay", F_RO | F_FILL),
    W("hy", F_RO | F_FILL),
    W("hein", F_RO | F_FILL),
    W("ho", F_RO | F_FILL),
    W("aur", F_RO | F_FILL),
    W("or", F_FILL),
    W("yeh", F_RO | F_FILL),
    W("ye", F_RO | F_FILL),
    W("woh", F_RO | F_FILL),
    W("wo", F_RO | F_FILL),
    W("jo", F_RO | F_FILL),
    W("bhi", F_RO | F_FILL),
    W("bohat", F_RO | F_FILL),
    W("bohot", F_RO | F_FILL),
    W("bahut", F_RO | F_FILL),
    W("raha", F_RO | F_FILL),
    W("rahi", F_RO | F_FILL),
    W("rahe", F_RO | F_FILL),
    W("abhi", F_RO | F_FILL),
    W("tak", F_RO | F_FILL),
    W("ghar", F_RO | F_FILL),
    W("apna", F_RO | F_FILL),
    W("apni", F_RO | F_FILL),
    W("uska", F_RO | F_FILL),
    W("uski", F_RO | F_FILL),
    W("sahab", F_RO | F_FILL),
    W("sahib", F_RO | F_FILL),
    W("shukriya", F_RO | F_FILL),
    /* fillers: Urdu script */
    W("میرا", F_FILL),
    W("میری", F_FILL),
    W("میرے", F_FILL),
    W("ہمارا", F_FILL),
    W("ہماری", F_FILL),
    W("ہمارے", F_FILL),
    W("کو", F_FILL),
    W("نے", F_FILL),
    W("پر", F_FILL),
    W("ہے", F_FILL),
    W("ہیں", F_FILL),
    W("تھے", F_FILL),
    W("ہو", F_FILL),
    W("اور", F_FILL),
    W("یہ", F_FILL),
    W("وہ", F_FILL),
    W("جو", F_FILL),
    W("بھی", F_FILL),
    W("گھر", F_FILL),
    W("شکریہ", F_FILL),
    /* greetings, skipped before a keyword */
    W("please", F_EN | F_POLITE | F_FILL),
    W("pls", F_EN | F_POLITE | F_FILL),
    W("plz", F_EN | F_POLITE | F_FILL),
    W("plzz", F_EN | F_POLITE | F_FILL),
    W("kindly", F_EN | F_POLITE | F_FILL),
    W("sir", F_EN | F_POLITE | F_FILL),
    W("dear", F_EN | F_POLITE | F_FILL),
    W("hi", F_POLITE | F_FILL),
    W("hello", F_EN | F_POLITE | F_FILL),
    W("salam", F_RO | F_POLITE | F_FILL),
    W("slam", F_RO | F_POLITE | F_FILL),
    W("aoa", F_RO | F_POLITE | F_FILL),
    W("assalam", F_RO | F_POLITE | F_FILL),
    W("asalam", F_RO | F_POLITE | F_FILL),
    W("assalamualaikum", F_RO | F_POLITE | F_FILL),
    W("assalamoalaikum", F_RO | F_POLITE | F_FILL),
    W("alaikum", F_RO | F_POLITE | F_FILL),
    W("janab", F_RO | F_POLITE | F_FILL),
    W("ji", F_RO | F_POLITE | F_FILL),
    W("سلام", F_POLITE | F_FILL),
    W("السلام", F_POLITE | F_FILL),
    W("علیکم", F_POLITE | F_FILL),
    W("براہ", F_POLITE | F_FILL),
    W("کرم", F_POLITE | F_FILL),
    W("مہربانی", F_POLITE | F_FILL),
    W("جناب", F_POLITE | F_FILL),
    W("جی", F_POLITE | F_FILL),

    /* descriptions: colours, clothes, looks */
    W("red", F_EN | F_DESC),
    W("blue", F_EN | F_DESC),
    W("green", F_EN | F_DESC),
    W("white", F_EN | F_DESC),
    W("black", F_EN | F_DESC),
    W("yellow", F_EN | F_DESC),
    W("pink", F_EN | F_DESC),
    W("orange", F_EN | F_DESC),
    W("purple", F_EN | F_DESC),
    W("brown", F_EN | F_DESC),
    W("grey", F_EN | F_DESC),
    W("gray", F_EN | F_DESC),
    W("maroon", F_EN | F_DESC),
    W("lal", F_RO | F_DESC),
    W("laal", F_RO | F_DESC),
    W("neela", F_RO | F_DESC),
    W("neeli", F_RO | F_DESC),
    W("nila", F_RO | F_DESC),
    W("nili", F_RO | F_DESC),
    W("hara", F_RO | F_DESC),
    W("hari", F_RO | F_DESC),
    W("sabz", F_RO | F_DESC),
    W("peela", F_RO | F_DESC),
    W("peeli", F_RO | F_DESC),
    W("kala", F_RO | F_DESC),
    W("kali", F_RO | F_DESC),
    W("kaala", F_RO | F_DESC),
    W("kaali", F_RO | F_DESC),
    W("safaid", F_RO | F_DESC),
    W("safed", F_RO | F_DESC),
    W("sufaid", F_RO | F_DESC),
    W("gulabi", F_RO | F_DESC),
    W("bhura", F_RO | F_DESC),
    W("surkh", F_RO | F_DESC),
    W("shirt", F_EN | F_DESC),
    W("tshirt", F_EN | F_DESC),
    W("pant", F_EN | F_DESC),
    W("pants", F_EN | F_DESC),
    W("jeans", F_EN | F_DESC),
    W("trouser", F_EN | F_DESC),
    W("trousers", F_EN | F_DESC),
    W("shorts", F_EN | F_DESC),
    W("frock", F_EN | F_DESC),
    W("dress", F_EN | F_DESC),
    W("uniform", F_EN | F_DESC),
    W("jacket", F_EN | F_DESC),
    W("sweater", F_EN | F_DESC),
    W("cap", F_EN | F_DESC),
    W("shoes", F_EN | F_DESC),
    W("sandals", F_EN | F_DESC),
    W("wearing", F_EN | F_DESC | F_WEAR),
    W("wore", F_EN | F_DESC | F_WEAR),
    W("tall", F_EN | F_DESC),
    W("short", F_EN | F_DESC),
    W("fair", F_EN | F_DESC),
    W("thin", F_EN | F_DESC),
    W("fat", F_EN | F_DESC),
    W("hair", F_EN | F_DESC),
    W("eyes", F_EN | F_DESC),
    W("glasses", F_EN | F_DESC),
    W("scar", F_EN | F_DESC),
    W("bag", F_EN | F_DESC),
    W("kurta", F_RO | F_DESC),
    W("kameez", F_RO | F_DESC),
    W("qameez", F_RO | F_DESC),
    W("shalwar", F_RO | F_DESC),
    W("salwar", F_RO | F_DESC),
    W("dupatta", F_RO | F_DESC),
    W("topi", F_RO | F_DESC),
    W("chappal", F_RO | F_DESC),
    W("joote", F_RO | F_DESC),
    W("pehna", F_RO | F_DESC | F_WEAR),
    W("pehni", F_RO | F_DESC | F_WEAR),
    W("pehne", F_RO | F_DESC | F_WEAR),
    W("kapre", F_RO | F_DESC),
    W("kapray", F_RO | F_DESC),
    W("baal", F_RO | F_DESC),
    W("lamba", F_RO | F_DESC),
    W("lambi", F_RO | F_DESC),
    W("gora", F_RO | F_DESC),
    W("gori", F_RO | F_DESC),
    W("sanwla", F_RO | F_DESC),
    W("sanwli", F_RO | F_DESC),
    W("mota", F_RO | F_DESC),
    W("patla", F_RO | F_DESC),
    W("patli", F_RO | F_DESC),
    W("chashma", F_RO | F_DESC),
    W("nishan", F_RO | F_DESC),
    W("لال", F_DESC),
    W("سرخ", F_DESC),
    W("نیلا", F_DESC),
    W("نیلی", F_DESC),
    W("نیلے", F_DESC),
    W("سبز", F_DESC),
    W("ہرا", F_DESC),
    W("ہری", F_DESC),
    W("پیلا", F_DESC),
    W("پیلی", F_DESC),
    W("کالا", F_DESC),
    W("کالی", F_DESC),
    W("کالے", F_DESC),
    W("سفید", F_DESC),
    W("گلابی", F_DESC),
    W("قمیض", F_DESC),
    W("شلوار", F_DESC),
    W("کرتا", F_DESC),
    W("پینٹ", F_DESC),
    W("جینز", F_DESC),
    W("ٹوپی", F_DESC),
    W("جوتے", F_DESC),
    W("چپل", F_DESC),
    W("فراک", F_DESC),
    W("دوپٹہ", F_DESC),
    W("وردی", F_DESC),
    W("پہنا", F_DESC | F_WEAR),
    W("پہنی", F_DESC | F_WEAR),
    W("پہنے", F_DESC | F_WEAR),
    W("کپڑے", F_DESC),
    W("بال", F_DESC),
    W("چشمہ", F_DESC),
    W("نشان", F_DESC),

    /* times */
    W("yesterday", F_EN | F_TIMEW),
    W("today", F_EN | F_TIMEW),
    W("tonight", F_EN | F_TIMEW),
    W("morning", F_EN | F_TIMEW),
    W("evening", F_EN | F_TIMEW),
    W("night", F_EN | F_TIMEW),
    W("afternoon", F_EN | F_TIMEW),
    W("noon", F_EN | F_TIMEW),
    W("kal", F_RO | F_TIMEW),
    W("aaj", F_RO | F_TIMEW),
    W("subah", F_RO | F_TIMEW),
    W("subha", F_RO | F_TIMEW),
    W("sham", F_RO | F_TIMEW),
    W("shaam", F_RO | F_TIMEW),
    W("raat", F_RO | F_TIMEW),
    W("dopahar", F_RO | F_TIMEW),
    W("dopehar", F_RO | F_TIMEW),
    W("baje", F_RO | F_TIMEW),
    W("کل", F_TIMEW),
    W("آج", F_TIMEW),
    W("صبح", F_TIMEW),
    W("شام", F_TIMEW),
    W("رات", F_TIMEW),
    W("دوپہر", F_TIMEW),
    W("بجے", F_TIMEW),
    W("ago", F_EN | F_AGO),
    W("pehle", F_RO | F_AGO),
    W("pehlay", F_RO | F_AGO),
    W("پہلے", F_AGO),

    /* addresses, contacts, case numbers, PINs, places */
    W("sector", F_ADDR),
    W("block", F_ADDR),
    W("blk", F_ADDR),
    W("street", F_EN | F_ADDR),
    W("st", F_ADDR),
    W("gali", F_RO | F_ADDR),
    W("plot", F_ADDR),
    W("phase", F_ADDR),
    W("no", F_ADDR | F_CASEW),
    W("number", F_ADDR | F_CASEW | F_CONTACT),
    W("num", F_ADDR | F_CASEW),
    W("nmbr", F_ADDR | F_CASEW),
    W("road", F_ADDR),
    W("flat", F_ADDR),
    W("سیکٹر", F_ADDR),
    W("بلاک", F_ADDR),
    W("گلی", F_ADDR),
    W("نمبر", F_ADDR | F_CASEW | F_CONTACT),
    W("مکان", F_ADDR),
    W("call", F_EN | F_CONTACT),
    W("contact", F_EN | F_CONTACT),
    W("phone", F_EN | F_CONTACT | F_THING),
    W("ph", F_CONTACT),
    W("mobile", F_CONTACT),
    W("mob", F_CONTACT),
    W("cell", F_CONTACT),
    W("whatsapp", F_CONTACT),
    W("rabta", F_RO | F_CONTACT),
    W("فون", F_CONTACT),
    W("رابطہ", F_CONTACT),
    W("موبائل", F_CONTACT),
    W("case", F_CASEW),
    W("kes", F_CASEW),
    W("کیس", F_CASEW),
    W("pin", F_PINW),
    W("code", F_PINW),
    W("پن", F_PINW),
    W("کوڈ", F_PINW),
    W("school", F_PLACE),
    W("madrasa", F_PLACE),
    W("madrassa", F_PLACE),
    W("masjid", F_PLACE),
    W("mosque", F_PLACE),
    W("market", F_PLACE),
    W("bazar", F_PLACE),
    W("bazaar", F_PLACE),
    W("park", F_PLACE),
    W("hospital", F_PLACE),
    W("station", F_PLACE),
    W("chowk", F_PLACE),
    W("bridge", F_PLACE),
    W("pul", F_PLACE),
    W("gate", F_PLACE),
    W("halt", F_PLACE),
    W("اسکول", F_PLACE),
    W("مسجد", F_PLACE),
    W("بازار", F_PLACE),
    W("مدرسہ", F_PLACE),
};

#define FOLD_WORD_MAX 64 /* longer words are not looked up */
#define KW_CPS_MAX 16

struct lexent {
    const char *word; /* the seed spelling */
    char *key;        /* folded */
    size_t keylen;
    uint64_t f;
    uint8_t cmd;
    int8_t num;
    int32_t cps[KW_CPS_MAX]; /* keywords: code points of key, for fuzzy matching */
    size_t ncps;
};

/* ------------------------------------------------------------- grammar --- */

#define MAX_LEX (TL_GRAMMAR_MAX_INPUT + 1)
#define MAX_PIECES 64
#define MAX_LS 8
#define FOLD_ARENA (TL_GRAMMAR_MAX_INPUT * 4 + 64)
/* gazetteer_match calls per message, at most: bounds the time a message
 * made of hundreds of short runs can take. */
#define GZ_BUDGET 24
/* Longer text is no area name (the longest, with "block 13 ke paas" and the
 * like, is far shorter) and is not looked up. */
#define GZ_SPAN_MAX 120

struct piece {
    size_t a, b; /* lexemes [a, b] */
    uint8_t field;
    uint8_t out;
    bool loc;        /* marked as a place: "near X", "X se" */
    bool desc;       /* holds a description word */
    bool place_only; /* only place/address words and numbers */
    bool matched;
    size_t nwords, nletters;
    enum tl_match_kind mk;
    struct tl_area_candidate cands[TL_GRAMMAR_MAX_CANDS];
    size_t ncands;
};

struct tl_grammar {
    pcre2_code *lex_re;
    pcre2_match_data *md;
    struct lexent *lex;
    size_t nlex;
    uint32_t *hash; /* index + 1 into lex, 0 empty */
    size_t hmask;
    const struct lexent **fuzzy; /* keywords for fuzzy matching */
    size_t nfuzzy;

    /* per message */
    const char *text;
    size_t len;
    const struct tl_gazetteer *gz;
    int gz_calls;
    struct lexeme lx[MAX_LEX];
    size_t n;
    char fold[FOLD_ARENA];
    size_t nfold;
    struct piece pieces[MAX_PIECES];
    size_t npieces;
};

static uint32_t hash_bytes(const char *p, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

static const struct lexent *lex_find(const struct tl_grammar *g, const char *key, size_t n)
{
    size_t i = hash_bytes(key, n) & g->hmask;

    while (g->hash[i]) {
        const struct lexent *e = &g->lex[g->hash[i] - 1];

        if (e->keylen == n && memcmp(e->key, key, n) == 0)
            return e;
        i = (i + 1) & g->hmask;
    }
    return NULL;
}

static char *fold_seed(const char *w, size_t *n)
{
    return textnorm_fold(w, strlen(w), n);
}

static int lexicon_build(struct tl_grammar *g, char **cause)
{
    size_t nseeds = sizeof lex_seeds / sizeof lex_seeds[0];
    size_t cap = 16;

    while (cap < nseeds * 2)
        cap *= 2;
    g->lex = xcalloc(nseeds, sizeof *g->lex);
    g->hash = xcalloc(cap, sizeof *g->hash);
    g->hmask = cap - 1;
    g->fuzzy = xcalloc(nseeds, sizeof *g->fuzzy);
    for (size_t s = 0; s < nseeds; s++) {
        const struct lex_seed *seed = &lex_seeds[s];
        size_t n;
        char *key = fold_seed(seed->w, &n);
        struct lexent *e;

        if (key == NULL || n == 0 || n >= FOLD_WORD_MAX || memchr(key, ' ', n) != NULL) {
            if (cause)
                *cause = xasprintf("grammar: lexicon word '%s' does not fold to one word", seed->w);
            free(key);
            return -1;
        }
        e = (struct lexent *)lex_find(g, key, n);
        if (e != NULL) {
            e->f |= seed->f;
            if (e->cmd == 0)
                e->cmd = seed->cmd;
            if (e->num == 0)
                e->num = seed->num;
            free(key);
            continue;
        }
        e = &g->lex[g->nlex];
        e->word = seed->w;
        e->key = key;
        e->keylen = n;
        e->f = seed->f;
        e->cmd = seed->cmd;
        e->num = seed->num;
        {
            size_t i = hash_bytes(key, n) & g->hmask;

            while (g->hash[i])
                i = (i + 1) & g->hmask;
            g->hash[i] = (uint32_t)(g->nlex + 1);
        }
        g->nlex++;
    }
    /* keywords of five code points or more take part in fuzzy matching */
    for (size_t i = 0; i < g->nlex; i++) {
        struct lexent *e = &g->lex[i];
        size_t ncp = textnorm_decode(e->key, e->keylen, NULL, 0);

        if (!(e->f & F_KW) || ncp < 4 || ncp > KW_CPS_MAX)
            continue;
        e->ncps = textnorm_decode(e->key, e->keylen, e->cps, KW_CPS_MAX);
        g->fuzzy[g->nfuzzy++] = e;
    }
    return 0;
}

struct tl_grammar *grammar_new(char **cause)
{
    struct tl_grammar *g = xcalloc(1, sizeof *g);
    int err;
    PCRE2_SIZE off;

    if (cause)
        *cause = NULL;
    g->lex_re = pcre2_compile((PCRE2_SPTR)lex_pattern, PCRE2_ZERO_TERMINATED,
                              PCRE2_UTF | PCRE2_UCP | PCRE2_CASELESS | PCRE2_ANCHORED, &err, &off,
                              NULL);
    if (g->lex_re == NULL) {
        PCRE2_UCHAR msg[160];

        pcre2_get_error_message(err, msg, sizeof msg);
        if (cause)
            *cause = xasprintf("grammar: lexer pattern at %zu: %s", (size_t)off, (char *)msg);
        grammar_free(g);
        return NULL;
    }
    /* JIT is an optimisation: without it (no JIT support) matching still works */
    (void)pcre2_jit_compile(g->lex_re, PCRE2_JIT_COMPLETE);
    g->md = pcre2_match_data_create_from_pattern(g->lex_re, NULL);
    if (g->md == NULL) {
        if (cause)
            *cause = xstrdup("grammar: out of memory for match data");
        grammar_free(g);
        return NULL;
    }
    if (lexicon_build(g, cause) < 0) {
        grammar_free(g);
        return NULL;
    }
    return g;
}

void grammar_free(struct tl_grammar *g)
{
    if (g == NULL)
        return;
    pcre2_match_data_free(g->md);
    pcre2_code_free(g->lex_re);
    for (size_t i = 0; i < g->nlex; i++)
        free(g->lex[i].key);
    free(g->lex);
    free(g->hash);
    free(g->fuzzy);
    free(g);
}

/* ---------------------------------------------------------------- names --- */

const char *grammar_command_name(enum tl_command c)
{
    switch (c) {
    case TL_CMD_REPORT:
        return "report";
    case TL_CMD_SUBSCRIBE:
        return "subscribe";
    case TL_CMD_UNSUBSCRIBE:
        return "unsubscribe";
    case TL_CMD_SIGHTING:
        return "sighting";
    case TL_CMD_STATUS:
        return "status";
    case TL_CMD_HELP:
        return "help";
    case TL_CMD_AREAS:
        return "areas";
    case TL_CMD_VERIFY:
        return "verify";
    case TL_CMD_FOUND:
        return "found";
    case TL_CMD_CLOSE:
        return "close";
    case TL_CMD_CANCEL:
        return "cancel";
    case TL_CMD_WIDEN:
        return "widen";
    case TL_CMD_UNKNOWN:
    default:
        return "unknown";
    }
}

const char *grammar_lang_name(enum tl_lang l)
{
    switch (l) {
    case TL_LANG_UR:
        return "ur";
    case TL_LANG_ROMAN_UR:
        return "roman-ur";
    case TL_LANG_EN:
    default:
        return "en";
    }
}

int grammar_lang_from_name(const char *s, enum tl_lang *out)
{
    if (s == NULL)
        return TL_ERR_INVALID;
    if (strcmp(s, "en") == 0)
        *out = TL_LANG_EN;
    else if (strcmp(s, "ur") == 0)
        *out = TL_LANG_UR;
    else if (strcmp(s, "roman-ur") == 0 || strcmp(s, "roman") == 0)
        *out = TL_LANG_ROMAN_UR;
    else
        return TL_ERR_INVALID;
    return TL_OK;
}

/* ------------------------------------------------------------- lexing --- */

/* Value of one digit code point of the three scripts, else -1. */
static int digit_value(int32_t cp)
{
    if (cp >= '0' && cp <= '9')
        return cp - '0';
    if (cp >= 0x660 && cp <= 0x669)
        return cp - 0x660;
    if (cp >= 0x6F0 && cp <= 0x6F9)
        return cp - 0x6F0;
    return -1;
}

static bool is_word(const struct lexeme *x)
{
    return x->type == LX_WORD || x->type == LX_AWORD;
}

static bool has(const struct lexeme *x, uint64_t f)
{
    return x->ent != NULL && (x->ent->f & f) != 0;
}

/* Folds word lexeme x into the arena and looks it up. */
static void lex_word(struct tl_grammar *g, struct lexeme *x)
{
    const char *p = g->text + x->s;
    size_t n = x->e - x->s, fl = 0, pos = 0, ncp = 0;
    bool ascii = true;
    char *dst;

    while (pos < n) {
        if ((unsigned char)p[pos] >= 0x80)
            ascii = false;
        tl_utf8_next(p, n, &pos);
        ncp++;
    }
    x->ncp = (uint8_t)(ncp > 255 ? 255 : ncp);
    if (n >= FOLD_WORD_MAX || g->nfold + n * 4 + 8 > sizeof g->fold)
        return;
    dst = g->fold + g->nfold;
    if (ascii) {
        for (size_t i = 0; i < n; i++) {
            char c = p[i];

            dst[fl++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
    } else {
        size_t m;
        char *f = textnorm_fold(p, n, &m);

        if (f == NULL)
            return;
        if (m < n * 4 + 8) {
            memcpy(dst, f, m);
            fl = m;
        }
        free(f);
    }
    if (fl == 0)
        return;
    x->fold = g->nfold;
    x->nfold = fl;
    g->nfold += fl;
    x->ent = lex_find(g, dst, fl);
}

static void lex_number(struct tl_grammar *g, struct lexeme *x)
{
    const char *p = g->text + x->s;
    size_t n = x->e - x->s, pos = 0, nd = 0;
    long v = 0;
    bool frac = false;

    while (pos < n) {
        int32_t cp = tl_utf8_next(p, n, &pos);
        int d = digit_value(cp);

        if (cp == '+') {
            x->plus = true;
            continue;
        }
        if (cp == '.') {
            frac = true;
            continue;
        }
        if (d < 0 || frac)
            continue;
        if (nd < 9)
            v = v * 10 + d;
        nd++;
    }
    x->val = v;
    x->ndig = (uint8_t)(nd > 255 ? 255 : nd);
    x->frac = frac;
}

/* Digits (any script) of text[s, e) as ASCII into out (cap bytes, NUL). */
static size_t digits_ascii(const char *p, size_t n, char *out, size_t cap)
{
    size_t pos = 0, k = 0;

    while (pos < n) {
        int d = digit_value(tl_utf8_next(p, n, &pos));

        if (d >= 0 && k + 1 < cap)
            out[k++] = (char)('0' + d);
    }
    out[k] = '\0';
    return k;
}

/* Total digits of lexemes. */
static size_t ndigits(const struct lexeme *x)
{
    return x->ndig;
}

/* Can a phone number start with digit group x? */
static bool phone_start(const struct tl_grammar *g, const struct lexeme *x)
{
    const char *p = g->text + x->s;

    if (x->frac)
        return false;
    if (x->plus || x->ndig >= 7)
        return true;
    /* ASCII leading 0 or 92; other scripts: their zero (٠ ۰) */
    if (p[0] == '0')
        return true;
    if (p[0] == '9' && x->e - x->s > 1 && p[1] == '2')
        /* …unless it is a case number: "VERIFY 920013 4321" is a case and a PIN. */
        return !(x->e - x->s == TL_CASENUM_LEN && casenum_valid(p, TL_CASENUM_LEN));
    if ((unsigned char)p[0] == 0xD9 && (unsigned char)p[1] == 0xA0) /* ٠ */
        return true;
    if ((unsigned char)p[0] == 0xDB && (unsigned char)p[1] == 0xB0) /* ۰ */
        return true;
    return false;
}

/* Joins digit groups that together are a phone number into one lexeme. */
static void lex_phones(struct tl_grammar *g)
{
    size_t out = 0;

    for (size_t i = 0; i < g->n; i++) {
        struct lexeme *x = &g->lx[i];
        size_t j = i, total, cap;

        if (x->type != LX_NUM || !phone_start(g, x)) {
            g->lx[out++] = *x;
            continue;
        }
        total = ndigits(x);
        {
            /* digits a number may have: +CC… 15; 00CC… 16; 0… (national) 11; else 12 */
            const char *p = g->text + x->s;
            bool zero = p[0] == '0', zerozero = zero && x->e - x->s > 1 && p[1] == '0';

            cap = x->plus ? 15 : zerozero ? 16 : zero ? 11 : 12;
        }
        for (;;) {
            size_t k = j + 1;

            /* one separator: white space, or a single '-' / '.' / '/' / '(' / ')' */
            if (k < g->n && g->lx[k].e - g->lx[k].s == 1 &&
                (((g->lx[k].type == LX_JOIN || g->lx[k].type == LX_DOT) &&
                  g->text[g->lx[k].s] != '&' && g->text[g->lx[k].s] != '_') ||
                 (g->lx[k].type == LX_SEP && g->text[g->lx[k].s] == '.') ||
                 (g->lx[k].type == LX_OTHER &&
                  (g->text[g->lx[k].s] == ')' || g->text[g->lx[k].s] == '('))))
                k++;
            if (k >= g->n || g->lx[k].type != LX_NUM || g->lx[k].plus || g->lx[k].frac ||
                total + ndigits(&g->lx[k]) > cap)
                break;
            total += ndigits(&g->lx[k]);
            j = k;
        }
        if ((j > i || x->ndig >= 7) &&
            phone_looks_like(g->text + x->s, g->lx[j].e - x->s)) {
            struct lexeme m = *x;

            /* "(0300)1234567": the bracket opening the number is part of it */
            if (out > 0 && g->lx[out - 1].type == LX_OTHER && g->text[g->lx[out - 1].s] == '(' &&
                g->lx[out - 1].e == x->s)
                m.s = g->lx[--out].s;
            m.type = LX_PHONE;
            m.e = g->lx[j].e;
            m.ndig = (uint8_t)(total > 255 ? 255 : total);
            g->lx[out++] = m;
            i = j;
            continue;
        }
        g->lx[out++] = *x;
    }
    g->n = out;
}

/* Abbreviation dots ("M. Ali", "No. 5") join; other dots separate. */
static void lex_dots(struct tl_grammar *g)
{
    for (size_t i = 0; i < g->n; i++) {
        struct lexeme *x = &g->lx[i];

        if (x->type != LX_DOT)
            continue;
        x->type = LX_SEP;
        if (x->e - x->s != 1 || i == 0)
            continue;
        if (g->lx[i - 1].type == LX_WORD && g->lx[i - 1].e == x->s &&
            (g->lx[i - 1].ncp == 1 || has(&g->lx[i - 1], F_ADDR | F_CASEW)))
            x->type = LX_JOIN;
        else if (g->lx[i - 1].type == LX_WORD && g->lx[i - 1].e == x->s && i + 1 < g->n &&
                 g->lx[i + 1].s == x->e && g->lx[i + 1].type == LX_WORD)
            x->type = LX_JOIN; /* S.I.T.E, a.b */
    }
}

/*
 * "0300.123.4567": digit groups joined by single dots that spell a phone
 * number starting with 0 or '+' are no decimal number (dates, "12.05.2024",
 * stay as they were). When x (a digit run with decimals) starts such a
 * chain, or continues one ("0300" "." then x), it ends at its dot. True
 * when cut.
 */
static bool lex_dotted(const struct tl_grammar *g, struct lexeme *x)
{
    const char *t = g->text;
    const char *dot = memchr(t + x->s, '.', x->e - x->s);
    size_t end = x->s, pos = x->s;
    bool before = g->n >= 3 && g->lx[g->n - 2].type == LX_DOT && g->lx[g->n - 2].e == x->s &&
                  g->lx[g->n - 2].e - g->lx[g->n - 2].s == 1 && g->lx[g->n - 3].type == LX_NUM &&
                  g->lx[g->n - 3].e == g->lx[g->n - 2].s;

    if (dot == NULL)
        return false;
    if (!before) {
        /* the chain: digits and single dots between digits */
        while (pos < g->len) {
            size_t at = pos;
            int32_t cp = tl_utf8_next(t, g->len, &pos);

            if (digit_value(cp) >= 0 || (cp == '+' && at == x->s)) {
                end = pos;
            } else if (cp == '.' && end == at) {
                continue;
            } else {
                break;
            }
        }
        pos = x->s;
        int32_t first = tl_utf8_next(t, g->len, &pos);
        if (end <= x->e || (first != '+' && digit_value(first) != 0) ||
            !phone_looks_like(t + x->s, end - x->s))
            return false;
    }
    x->e = (size_t)(dot - t);
    return true;
}

static void lex_all(struct tl_grammar *g)
{
    size_t off = 0;

    g->n = 0;
    g->nfold = 0;
    while (off < g->len && g->n < MAX_LEX) {
        int rc = pcre2_match(g->lex_re, (PCRE2_SPTR)g->text, g->len, off, PCRE2_NO_UTF_CHECK,
                             g->md, NULL);
        PCRE2_SIZE *ov;
        struct lexeme *x;
        int grp = 0;

        if (rc <= 0)
            break;
        ov = pcre2_get_ovector_pointer(g->md);
        for (int k = 1; k < rc; k++) {
            if (ov[2 * k] != PCRE2_UNSET) {
                grp = k;
                break;
            }
        }
        if (grp == 0 || ov[1] <= off)
            break;
        x = &g->lx[g->n++];
        memset(x, 0, sizeof *x);
        x->s = ov[2 * grp];
        x->e = ov[2 * grp + 1];
        x->type = (uint8_t)grp;
        off = ov[1];
        if (x->type == LX_NUM && lex_dotted(g, x))
            off = x->e;
        if (x->type == LX_WORD || x->type == LX_AWORD)
            lex_word(g, x);
        else if (x->type == LX_NUM)
            lex_number(g, x);
    }
    lex_dots(g);
    lex_phones(g);
}

/* --------------------------------------------------------- text output --- */

/* Appends n bytes to a field, cutting at a UTF-8 boundary to fit. */
static void field_append(char *dst, size_t *len, const char *src, size_t n)
{
    size_t room = TL_GRAMMAR_TEXT_MAX - 1 - *len;

    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = '\0';
}

/* Appends the text of lexemes [a, b], leaving out dropped ones (phone
 * numbers) with one space in their place. */
static void span_append(const struct tl_grammar *g, size_t a, size_t b, char *dst, size_t *len)
{
    size_t k = a;

    while (k <= b) {
        size_t s, e;

        while (k <= b && g->lx[k].role == R_DROP)
            k++;
        if (k > b)
            break;
        s = g->lx[k].s;
        while (k <= b && g->lx[k].role != R_DROP)
            k++;
        e = g->lx[k - 1].e;
        if (*len > 0 && s != g->lx[a].s)
            field_append(dst, len, " ", 1);
        field_append(dst, len, g->text + s, e - s);
    }
}

static void span_set(const struct tl_grammar *g, size_t a, size_t b, char *dst)
{
    size_t len = 0;

    dst[0] = '\0';
    span_append(g, a, b, dst, &len);
}

/* --------------------------------------------------------- gazetteer --- */

/* gazetteer_match_opts() on lexemes [a, b], within the per-message budget. */
static enum tl_match_kind gz_match_opts(struct tl_grammar *g, size_t a, size_t b,
                                        struct tl_area_candidate *cands, size_t *ncands,
                                        unsigned opts)
{
    *ncands = 0;
    if (g->gz == NULL || g->gz_calls >= GZ_BUDGET ||
        g->lx[b].e - g->lx[a].s > GZ_SPAN_MAX)
        return TL_MATCH_NONE;
    g->gz_calls++;
    return gazetteer_match_opts(g->gz, g->text + g->lx[a].s, g->lx[b].e - g->lx[a].s, cands,
                                TL_GRAMMAR_MAX_CANDS, ncands, opts);
}

/* Spans are probes: "did you mean" candidates come once, at the end
 * (near_misses), for the area text the message settles on. */
static enum tl_match_kind gz_match(struct tl_grammar *g, size_t a, size_t b,
                                   struct tl_area_candidate *cands, size_t *ncands)
{
    return gz_match_opts(g, a, b, cands, ncands, TL_MATCH_OPT_NO_NEAR);
}

/* Exact names only (cheaper: no fuzzy pass). */
static enum tl_match_kind gz_match_exact(struct tl_grammar *g, size_t a, size_t b,
                                         struct tl_area_candidate *cands, size_t *ncands)
{
    return gz_match_opts(g, a, b, cands, ncands, TL_MATCH_OPT_EXACT);
}

/* An area text that matched nothing: the nearest spellings, for the
 * gateway's "did you mean" question (one full match, only for this text). */
static void near_misses(const struct tl_grammar *g, struct tl_sms_parse *out)
{
    size_t nc = 0;

    if (g->gz == NULL || out->area != NULL || out->area_match != TL_MATCH_NONE ||
        out->ncands > 0 || out->area_text[0] == '\0')
        return;
    if (gazetteer_match(g->gz, out->area_text, strlen(out->area_text), out->cands,
                        TL_GRAMMAR_MAX_CANDS, &nc) == TL_MATCH_NONE)
        out->ncands = nc;
}

static void out_area(struct tl_sms_parse *out, enum tl_match_kind mk,
                     const struct tl_area_candidate *cands, size_t ncands)
{
    out->area_match = mk;
    out->area = (mk == TL_MATCH_EXACT || mk == TL_MATCH_FUZZY) && ncands > 0 ? cands[0].area
                                                                             : NULL;
    out->ncands = ncands > TL_GRAMMAR_MAX_CANDS ? TL_GRAMMAR_MAX_CANDS : ncands;
    memcpy(out->cands, cands, out->ncands * sizeof *cands);
}

/* -------------------------------------------------------------- keywords --- */

struct kwhit {
    enum tl_command cmd;
    size_t a, b; /* keyword lexemes [a, b) */
    const char *kw;
};

static bool is_punct(const struct lexeme *x)
{
    return x->type == LX_SEP || x->type == LX_COLON || x->type == LX_JOIN ||
           x->type == LX_OTHER || x->type == LX_DOT;
}

/* Index of the next word right after i (only white space between), or n. */
static size_t next_word(const struct tl_grammar *g, size_t i)
{
    if (i + 1 < g->n && is_word(&g->lx[i + 1]))
        return i + 1;
    return g->n;
}

/* The distance bound for a keyword of ncp code points. */
static int kw_bound(size_t ncp)
{
    return ncp >= 8 ? 2 : 1;
}

/*
 * The tolerance of four-letter keywords: one letter doubled ("JOINN",
 * "STOPP") or the two middle letters swapped ("JION", "HLEP"); never a
 * change of the first or the last letter ("LOTS" is not LOST).
 */
static bool kw_short_match(const int32_t *w, size_t nw, const int32_t *k, size_t nk)
{
    if (nk != 4)
        return false;
    if (nw == 4)
        return w[0] == k[0] && w[1] == k[2] && w[2] == k[1] && w[3] == k[3] && k[1] != k[2];
    if (nw == 5) {
        for (size_t d = 0; d < 4; d++) {
            bool ok = true;

            for (size_t i = 0, j = 0; i < 5 && ok; i++) {
                if (i == d + 1) {
                    ok = w[i] == k[d];
                    continue;
                }
                ok = w[i] == k[j++];
            }
            if (ok)
                return true;
        }
    }
    return false;
}

/*
 * The keyword a misspelt word stands for (same first letter, within the
 * bound), or NULL. only_report restricts to long report keywords.
 */
static const struct lexent *kw_fuzzy(const struct tl_grammar *g, const struct lexeme *x,
                                     bool only_report)
{
    int32_t cps[KW_CPS_MAX + 4];
    size_t ncp;
    const struct lexent *best = NULL;
    int bestd = 99;

    if (x->ent != NULL || x->nfold == 0 || x->ncp < 4)
        return NULL;
    ncp = textnorm_decode(g->fold + x->fold, x->nfold, NULL, 0);
    if (ncp > KW_CPS_MAX + 2 || ncp < 4)
        return NULL;
    textnorm_decode(g->fold + x->fold, x->nfold, cps, ncp);
    for (size_t i = 0; i < g->nfuzzy; i++) {
        const struct lexent *e = g->fuzzy[i];
        int bound = kw_bound(e->ncps), d;

        if (only_report && (e->cmd != TL_CMD_REPORT || e->ncps < 6 || ncp < 5))
            continue;
        if (e->cps[0] != cps[0])
            continue;
        if (e->ncps < 5) {
            if (only_report || !kw_short_match(cps, ncp, e->cps, e->ncps))
                continue;
            d = 1;
        } else {
            d = textnorm_distance_cp(cps, ncp, e->cps, e->ncps, bound);
        }
        if (d > bound)
            continue;
        /* ties: unsubscribe wins (STOP must always work), else the first */
        if (d < bestd || (d == bestd && e->cmd == TL_CMD_UNSUBSCRIBE &&
                          best->cmd != TL_CMD_UNSUBSCRIBE)) {
            best = e;
            bestd = d;
        }
    }
    return best;
}

/* A keyword (one or more lexemes) starting at i, exact only. */
static bool kw_at(const struct tl_grammar *g, size_t i, struct kwhit *hit)
{
    const struct lexeme *x = &g->lx[i];
    size_t j;

    if (!is_word(x) || x->ent == NULL)
        return false;
    j = next_word(g, i);
    if (has(x, F_MIL) && j < g->n && has(&g->lx[j], F_GAYA)) {
        hit->cmd = TL_CMD_FOUND;
        hit->a = i;
        hit->b = j + 1;
        hit->kw = x->type == LX_AWORD ? "مل گیا" : "mil gaya";
        return true;
    }
    if (has(x, F_NAHI) && j < g->n && has(&g->lx[j], F_MIL)) {
        /* "nahi mil raha/rahi", "نہیں مل رہی": (someone) cannot be found */
        size_t k = next_word(g, j);

        hit->cmd = TL_CMD_REPORT;
        hit->a = i;
        hit->b = j + 1;
        if (k < g->n && is_word(&g->lx[k]) && has(&g->lx[k], F_FILL))
            hit->b = k + 1;
        hit->kw = x->type == LX_AWORD ? "نہیں مل رہا" : "nahi mil raha";
        return true;
    }
    if (has(x, F_KHO) && j < g->n && has(&g->lx[j], F_GAYA)) {
        hit->cmd = TL_CMD_REPORT;
        hit->a = i;
        hit->b = j + 1;
        hit->kw = x->type == LX_AWORD ? "کھو گیا" : "kho gaya";
        return true;
    }
    if (!has(x, F_KW))
        return false;
    hit->cmd = (enum tl_command)x->ent->cmd;
    hit->a = i;
    hit->b = i + 1;
    hit->kw = x->ent->word;
    if (has(x, F_BAND)) {
        /* BAND KARO, BAND KAR DO, بند کرو */
        while (hit->b < g->n && hit->b < i + 3 && is_word(&g->lx[hit->b]) &&
               has(&g->lx[hit->b], F_KARO))
            hit->b++;
    }
    return true;
}

/* ------------------------------------------------------------ arguments --- */

static bool is_case_num(const struct lexeme *x)
{
    return x->type == LX_NUM && x->ndig == 6 && !x->frac && !x->plus;
}

static bool is_num3(const struct lexeme *x)
{
    return x->type == LX_NUM && x->ndig == 3 && !x->frac && !x->plus;
}

/*
 * Reads a case number at i (after "case", "no.", '#', ':' …): six digits,
 * or 3 + 3 split by a space or a dash. Returns the index after it, or i
 * when there is none.
 */
static size_t read_case(struct tl_grammar *g, size_t i, struct tl_sms_parse *out)
{
    size_t k = i;
    char buf[16];
    size_t n;

    while (k < g->n && (is_punct(&g->lx[k]) || (is_word(&g->lx[k]) && has(&g->lx[k], F_CASEW))))
        k++;
    if (k >= g->n)
        return i;
    if (is_case_num(&g->lx[k])) {
        n = digits_ascii(g->text + g->lx[k].s, g->lx[k].e - g->lx[k].s, buf, sizeof buf);
        g->lx[k].role = R_ARG;
        k++;
    } else if (is_num3(&g->lx[k])) {
        size_t m = k + 1;

        if (m < g->n && g->lx[m].type == LX_JOIN && g->text[g->lx[m].s] == '-')
            m++;
        if (m >= g->n || !is_num3(&g->lx[m]))
            return i;
        n = digits_ascii(g->text + g->lx[k].s, g->lx[m].e - g->lx[k].s, buf, sizeof buf);
        for (size_t t = k; t <= m; t++)
            g->lx[t].role = R_ARG;
        k = m + 1;
    } else {
        return i;
    }
    if (n != TL_CASENUM_LEN)
        return i;
    memcpy(out->case_no, buf, TL_CASENUM_LEN + 1);
    out->case_valid = casenum_valid(out->case_no, TL_CASENUM_LEN);
    return k;
}

/* The first six-digit number from i on, anywhere; its index or n. */
static size_t find_case(struct tl_grammar *g, size_t i, struct tl_sms_parse *out)
{
    for (size_t k = i; k < g->n; k++) {
        if (is_case_num(&g->lx[k]) && g->lx[k].role != R_ARG) {
            char buf[16];

            digits_ascii(g->text + g->lx[k].s, g->lx[k].e - g->lx[k].s, buf, sizeof buf);
            memcpy(out->case_no, buf, TL_CASENUM_LEN + 1);
            out->case_valid = casenum_valid(out->case_no, TL_CASENUM_LEN);
            g->lx[k].role = R_ARG;
            return k;
        }
    }
    return g->n;
}

/* Reads a PIN (4-6 digits, after "pin", ':' …) at i; the index after it or i. */
static size_t read_pin(struct tl_grammar *g, size_t i, struct tl_sms_parse *out)
{
    size_t k = i;

    while (k < g->n && (is_punct(&g->lx[k]) || (is_word(&g->lx[k]) && has(&g->lx[k], F_PINW))))
        k++;
    if (k < g->n && g->lx[k].type == LX_NUM && g->lx[k].ndig >= 4 && g->lx[k].ndig <= 6 &&
        !g->lx[k].frac && !g->lx[k].plus) {
        digits_ascii(g->text + g->lx[k].s, g->lx[k].e - g->lx[k].s, out->pin, sizeof out->pin);
        g->lx[k].role = R_ARG;
        return k + 1;
    }
    return i;
}

/* Trims lexemes [*a, *b) of punctuation and of words with any of `f`. */
static bool trim_range(const struct tl_grammar *g, size_t *a, size_t *b, uint64_t f)
{
    while (*a < *b && (is_punct(&g->lx[*a]) || g->lx[*a].role == R_ARG ||
                       (is_word(&g->lx[*a]) && has(&g->lx[*a], f))))
        (*a)++;
    while (*b > *a && (is_punct(&g->lx[*b - 1]) || g->lx[*b - 1].role == R_ARG ||
                       (is_word(&g->lx[*b - 1]) && has(&g->lx[*b - 1], f))))
        (*b)--;
    /* a closing bracket or quote typed after the text stays */
    return *a < *b;
}

/*
 * The free text of lexemes [a, n) into dst, without a case number at its
 * end. Punctuation before the text goes; after it, only with a case number
 * typed last: the text keeps its own ("100%", "{x}", "there!").
 */
static void rest_text(struct tl_grammar *g, size_t a, char *dst)
{
    size_t b = g->n;

    while (a < b && (is_punct(&g->lx[a]) || g->lx[a].role == R_ARG))
        a++;
    while (b > a && g->lx[b - 1].role == R_ARG) {
        b--;
        while (b > a && is_punct(&g->lx[b - 1]))
            b--;
    }
    if (a < b)
        span_set(g, a, b - 1, dst);
}

/* An area named by lexemes [a, n): subscribe, unsubscribe, widen. */
static void rest_area(struct tl_grammar *g, size_t a, bool only_known, struct tl_sms_parse *out)
{
    size_t b = g->n;
    struct tl_area_candidate c[TL_GRAMMAR_MAX_CANDS];
    size_t nc;
    enum tl_match_kind mk;

    if (!trim_range(g, &a, &b, F_FILL | F_POLITE | F_LAREA | F_KARO))
        return;
    mk = gz_match(g, a, b - 1, c, &nc);
    if (only_known && mk == TL_MATCH_NONE)
        return;
    span_set(g, a, b - 1, out->area_text);
    out_area(out, mk, c, nc);
}

/* ----------------------------------------------------------------- report --- */

static bool role_free(const struct lexeme *x)
{
    return x->role == R_FREE;
}

/* Lexemes allowed inside a run of free words. */
static bool runnable(const struct lexeme *x)
{
    return x->role == R_FREE &&
           (is_word(x) || x->type == LX_NUM || x->type == LX_JOIN || x->type == LX_OTHER);
}

static bool is_content(const struct lexeme *x)
{
    return is_word(x) || x->type == LX_NUM;
}

/* Index of the previous lexeme before i that is not a joiner, or SIZE_MAX. */
static size_t prev_nonjoin(const struct tl_grammar *g, size_t i)
{
    while (i > 0) {
        i--;
        if (g->lx[i].type != LX_JOIN)
            return i;
    }
    return SIZE_MAX;
}

static size_t next_nonjoin(const struct tl_grammar *g, size_t i)
{
    for (i++; i < g->n; i++) {
        if (g->lx[i].type != LX_JOIN)
            return i;
    }
    return g->n;
}

/* Does the segment (between separators) around i hold nothing but i? */
static bool alone_in_segment(const struct tl_grammar *g, size_t i)
{
    for (size_t k = i; k-- > 0;) {
        if (g->lx[k].type == LX_SEP)
            break;
        if (g->lx[k].role != R_KW && g->lx[k].type != LX_COLON && is_content(&g->lx[k]) &&
            g->lx[k].role != R_LABEL)
            return false;
    }
    for (size_t k = i + 1; k < g->n; k++) {
        if (g->lx[k].type == LX_SEP)
            break;
        if (g->lx[k].role != R_KW && is_content(&g->lx[k]))
            return false;
    }
    return true;
}

struct report {
    int age;
    enum tl_gender gender, weak;
    size_t first_ag; /* first age or gender lexeme, or n */
    size_t ls[MAX_LS][2];
    size_t nls;
};

/* Marks an age at number (or number word) i: its unit, "old", "ka/ki". */
static void take_age(struct tl_grammar *g, struct report *r, size_t i, int value)
{
    size_t k;

    r->age = value;
    g->lx[i].role = R_AGE;
    if (i < r->first_ag)
        r->first_ag = i;
    k = next_nonjoin(g, i);
    if (k < g->n && is_word(&g->lx[k]) && has(&g->lx[k], F_UNIT_Y | F_UNIT_M)) {
        if (has(&g->lx[k], F_UNIT_M))
            r->age = value / 12; /* "18 months" is 1: whole years, rounded down */
        for (size_t t = i + 1; t <= k; t++)
            g->lx[t].role = R_AGE;
        i = k;
        k = next_nonjoin(g, i);
    }
    if (k < g->n && is_word(&g->lx[k]) && has(&g->lx[k], F_OLD)) {
        for (size_t t = i + 1; t <= k; t++)
            g->lx[t].role = R_AGE;
        i = k;
        k = next_nonjoin(g, i);
    }
    if (k < g->n && is_word(&g->lx[k]) && has(&g->lx[k], F_KA_M | F_KA_F)) {
        if (r->weak == TL_GENDER_UNKNOWN)
            r->weak = has(&g->lx[k], F_KA_M) ? TL_GENDER_MALE : TL_GENDER_FEMALE;
        g->lx[k].role = R_AGE;
    }
}

/* Is there a word or number before i that is not the keyword or a filler? */
static bool content_before(const struct tl_grammar *g, size_t i)
{
    for (size_t k = 0; k < i; k++) {
        const struct lexeme *x = &g->lx[k];

        if (is_content(x) && x->role != R_KW && x->role != R_FILL &&
            !(is_word(x) && has(x, F_FILL | F_POLITE)))
            return true;
    }
    return false;
}

static bool small_num(const struct lexeme *x)
{
    return x->type == LX_NUM && x->role == R_FREE && x->ndig >= 1 && x->ndig <= 2 && !x->plus;
}

/* The value of a number or number word at i, or -1. */
static int age_value(const struct lexeme *x)
{
    if (small_num(x))
        return (int)x->val;
    if (is_word(x) && x->role == R_FREE && has(x, F_NUMW))
        return x->ent->num;
    return -1;
}

static bool followed_by_unit(const struct tl_grammar *g, size_t i, uint64_t unit)
{
    size_t k = next_nonjoin(g, i);

    return k < g->n && is_word(&g->lx[k]) && has(&g->lx[k], unit);
}

static void report_last_seen(struct tl_grammar *g, struct report *r)
{
    for (size_t i = 0; i < g->n; i++) {
        size_t j, k, m;

        if (!role_free(&g->lx[i]) || !is_word(&g->lx[i]) || !has(&g->lx[i], F_LAST1))
            continue;
        j = next_word(g, i);
        if (j >= g->n || !has(&g->lx[j], F_LAST2))
            continue;
        k = j + 1;
        while (k < g->n && is_word(&g->lx[k]) && has(&g->lx[k], F_SEENW | F_GAYA | F_LOC_PRE) &&
               !has(&g->lx[k], F_LOC_PRE))
            k++;
        while (k < g->n && (g->lx[k].type == LX_COLON || g->lx[k].type == LX_JOIN))
            k++;
        for (size_t t = i; t < k; t++)
            g->lx[t].role = R_LSMARK;
        for (m = k; m < g->n; m++) {
            const struct lexeme *x = &g->lx[m];

            if (x->type == LX_SEP || x->role != R_FREE)
                break;
            if (is_word(x) && has(x, F_LABELS) && m + 1 < g->n &&
                g->lx[m + 1].type == LX_COLON)
                break;
            if (is_word(x) && has(x, F_LAST1) && next_word(g, m) < g->n &&
                has(&g->lx[next_word(g, m)], F_LAST2))
                break;
            if (small_num(x) && followed_by_unit(g, m, F_UNIT_Y | F_UNIT_M))
                break;
            /* "wearing …", "red shirt": the description has begun */
            if (is_word(x) && (has(x, F_WEAR) || (has(x, F_DESC) && next_word(g, m) < g->n &&
                                                  has(&g->lx[next_word(g, m)], F_DESC))))
                break;
        }
        for (size_t t = k; t < m; t++)
            g->lx[t].role = R_LS;
        if (m > k && r->nls < MAX_LS) {
            r->ls[r->nls][0] = k;
            r->ls[r->nls][1] = m;
            r->nls++;
        }
        i = m > i ? m - 1 : i;
    }
}

static void report_phones(struct tl_grammar *g, struct tl_sms_parse *out)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->lx[i].type != LX_PHONE)
            continue;
        if (out->contact[0] == '\0') {
            size_t n = g->lx[i].e - g->lx[i].s;

            if (n < sizeof out->contact) {
                memcpy(out->contact, g->text + g->lx[i].s, n);
                out->contact[n] = '\0';
            }
        }
        g->lx[i].role = R_DROP;
        for (size_t k = i; k-- > 0;) {
            struct lexeme *x = &g->lx[k];

            if (x->role != R_FREE && x->role != R_FILL && x->role != R_LS)
                break;
            if (x->type == LX_COLON || x->type == LX_JOIN ||
                (is_word(x) && has(x, F_CONTACT | F_CASEW)) ||
                (x->type == LX_OTHER && (g->text[x->s] == '#' || g->text[x->s] == '(')))
                x->role = R_DROP;
            else
                break;
        }
    }
}

static void report_times(struct tl_grammar *g)
{
    for (size_t i = 0; i < g->n; i++) {
        struct lexeme *x = &g->lx[i];

        if (x->role != R_FREE)
            continue;
        if (x->type == LX_TIME || (is_word(x) && has(x, F_TIMEW))) {
            x->role = R_TIME;
        } else if ((x->type == LX_NUM || (is_word(x) && has(x, F_NUMW))) &&
                   followed_by_unit(g, i, F_UNIT_T)) {
            size_t k = next_nonjoin(g, i);

            for (size_t t = i; t <= k; t++)
                g->lx[t].role = R_TIME;
            k = next_nonjoin(g, k);
            if (k < g->n && is_word(&g->lx[k]) && has(&g->lx[k], F_AGO))
                g->lx[k].role = R_TIME;
        } else if (is_word(x) && has(x, F_AGO) && i > 0 && g->lx[i - 1].role == R_TIME) {
            x->role = R_TIME;
        }
    }
}

static void report_age(struct tl_grammar *g, struct report *r)
{
    /* labelled ages and numbers with a unit */
    for (size_t i = 0; i < g->n && r->age < 0; i++) {
        struct lexeme *x = &g->lx[i];
        int v;

        if (x->role != R_FREE)
            continue;
        if (is_word(x) && has(x, F_LAGE | F_AGED)) {
            size_t k = i + 1;

            if (has(x, F_NAMELIKE) && !(i + 1 < g->n && g->lx[i + 1].type == LX_COLON) &&
                !content_before(g, i))
                continue; /* "lapata Umar 8 saal": a name, not a label */

            while (k < g->n && (g->lx[k].type == LX_COLON || g->lx[k].type == LX_JOIN ||
                                (is_word(&g->lx[k]) && has(&g->lx[k], F_FILL))))
                k++;
            if (k < g->n && (v = age_value(&g->lx[k])) >= 0) {
                x->role = R_LABEL;
                take_age(g, r, k, v);
            }
            continue;
        }
        if ((v = age_value(x)) >= 0 && followed_by_unit(g, i, F_UNIT_Y | F_UNIT_M))
            take_age(g, r, i, v);
    }
    /* a bare number or number word */
    for (size_t i = 0; i < g->n && r->age < 0; i++) {
        struct lexeme *x = &g->lx[i];
        size_t p;

        if (x->role != R_FREE)
            continue;
        if (small_num(x) && x->val >= 1) {
            p = prev_nonjoin(g, i);
            if (p != SIZE_MAX &&
                ((is_word(&g->lx[p]) && has(&g->lx[p], F_ADDR | F_CASEW | F_PINW)) ||
                 (g->lx[p].type == LX_OTHER && g->text[g->lx[p].s] == '#')))
                continue;
            p = next_nonjoin(g, i);
            if (p < g->n && is_word(&g->lx[p]) && has(&g->lx[p], F_ADDR))
                continue;
            take_age(g, r, i, (int)x->val);
        } else if (is_word(x) && has(x, F_NUMW) &&
                   (has(x, F_SOLO) || alone_in_segment(g, i))) {
            take_age(g, r, i, x->ent->num);
        }
    }
}

static void report_gender(struct tl_grammar *g, struct report *r)
{
    for (size_t i = 0; i < g->n; i++) {
        struct lexeme *x = &g->lx[i];

        if (x->role != R_FREE || !is_word(x))
            continue;
        if (has(x, F_MALE | F_FEMALE)) {
            size_t p = prev_nonjoin(g, i);

            /* "do bhai ke sath", "2 sisters": other children, not this one */
            if (p != SIZE_MAX && g->lx[p].role == R_FREE &&
                (g->lx[p].type == LX_NUM || (is_word(&g->lx[p]) && has(&g->lx[p], F_NUMW))))
                continue;
            x->role = R_GENDER;
            if (r->gender == TL_GENDER_UNKNOWN)
                r->gender = has(x, F_MALE) ? TL_GENDER_MALE : TL_GENDER_FEMALE;
            if (i < r->first_ag)
                r->first_ag = i;
        } else if (has(x, F_LGENDER)) {
            size_t k = i + 1;

            while (k < g->n && (g->lx[k].type == LX_COLON || g->lx[k].type == LX_JOIN))
                k++;
            x->role = R_LABEL;
            if (k < g->n && is_word(&g->lx[k]) && has(&g->lx[k], F_MF | F_MALE | F_FEMALE)) {
                const char *p = g->fold + g->lx[k].fold;
                bool male = has(&g->lx[k], F_MALE) || (has(&g->lx[k], F_MF) && p[0] == 'm');

                g->lx[k].role = R_GENDER;
                if (r->gender == TL_GENDER_UNKNOWN)
                    r->gender = male ? TL_GENDER_MALE : TL_GENDER_FEMALE;
            }
        } else if (has(x, F_MF)) {
            size_t p = i;

            /* "8 M", "8/M", "8M", or M alone between separators */
            while (p > 0 && g->lx[p - 1].type == LX_JOIN)
                p--;
            if ((p > 0 && g->lx[p - 1].role == R_AGE) || alone_in_segment(g, i)) {
                x->role = R_GENDER;
                if (r->gender == TL_GENDER_UNKNOWN)
                    r->gender = g->fold[x->fold] == 'm' ? TL_GENDER_MALE : TL_GENDER_FEMALE;
            }
        }
    }
}

/* An area label with no colon, right after a free word and before nothing
 * it could label, belongs to the area name: "FB Area", "Korangi area se". */
static bool area_label_is_suffix(const struct tl_grammar *g, size_t i)
{
    const struct lexeme *n = i + 1 < g->n ? &g->lx[i + 1] : NULL;

    if (i == 0 || !runnable(&g->lx[i - 1]) || !is_content(&g->lx[i - 1]))
        return false;
    if (n != NULL && (n->type == LX_COLON ||
                      (runnable(n) && is_content(n) &&
                       !(is_word(n) && has(n, F_FILL | F_POLITE | F_LOC_PRE | F_LOC_POST |
                                              F_ADDR))))) /* "FB Area Block 13" */
        return false;
    return true;
}

static void report_fillers(struct tl_grammar *g, struct report *r)
{
    for (size_t i = 0; i < g->n; i++) {
        struct lexeme *x = &g->lx[i];

        if (x->role != R_FREE || !is_word(x))
            continue;
        if (has(x, F_WMALE | F_WFEMALE) && r->weak == TL_GENDER_UNKNOWN &&
            !has(x, F_KA_M | F_KA_F))
            r->weak = has(x, F_WMALE) ? TL_GENDER_MALE : TL_GENDER_FEMALE;
        if (has(x, F_FILL | F_POLITE | F_LOC_PRE | F_LOC_POST | F_KHO) ||
            (has(x, F_KARO) && !has(x, F_NUMW)) ||
            (has(x, F_KW) && (x->ent->cmd == TL_CMD_REPORT || x->ent->cmd == TL_CMD_HELP)) ||
            (has(x, F_MIL) && next_word(g, i) < g->n && has(&g->lx[next_word(g, i)], F_GAYA)))
            x->role = R_FILL;
        else if (has(x, F_LAREA) && area_label_is_suffix(g, i))
            continue; /* "FB Area", "Korangi area se": part of the name */
        else if (has(x, F_LNAME | F_LAREA | F_LDESC))
            x->role = R_LABEL;
    }
}

static bool strong(enum tl_match_kind mk);

/*
 * "area: Landhi with a red cap": an area label binds only its own value, the
 * longest run of words from `first` that names an area (exact or clearly
 * fuzzy, at most five words); the words after it go back to the free text
 * (the description). When no prefix names an area the whole run stays, so
 * the gateway can ask about what was typed.
 */
static void area_label_own_value(struct tl_grammar *g, size_t first, size_t last)
{
    struct tl_area_candidate c[TL_GRAMMAR_MAX_CANDS];
    size_t words = 0, nc;

    for (size_t k = first; k <= last; k++)
        words += is_word(&g->lx[k]) || g->lx[k].type == LX_NUM;
    if (words < 2 || g->gz == NULL)
        return;
    /* pass 0: exact names only, longest first; pass 1: clear fuzzy ones */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t end = last + 1; end-- > first;) {
            size_t n = 0;
            enum tl_match_kind mk;

            for (size_t k = first; k <= end; k++)
                n += is_word(&g->lx[k]) || g->lx[k].type == LX_NUM;
            if (n > 5 || (!is_word(&g->lx[end]) && g->lx[end].type != LX_NUM))
                continue;
            if (g->gz_calls >= GZ_BUDGET)
                return;
            mk = pass == 0 ? gz_match_exact(g, first, end, c, &nc) : gz_match(g, first, end, c, &nc);
            if (pass == 0 ? mk == TL_MATCH_EXACT : strong(mk)) {
                for (size_t k = end + 1; k <= last; k++)
                    g->lx[k].field = FLD_NONE;
                return;
            }
        }
    }
}

/* Binds the free words after each name/area/description label to it. */
static void report_labels(struct tl_grammar *g)
{
    for (size_t i = 0; i < g->n; i++) {
        struct lexeme *x = &g->lx[i];
        uint8_t fld;
        size_t k = i + 1;

        if (x->role != R_LABEL || !is_word(x))
            continue;
        if (has(x, F_LNAME))
            fld = FLD_NAME;
        else if (has(x, F_LAREA))
            fld = FLD_AREA;
        else if (has(x, F_LDESC))
            fld = FLD_DESC;
        else
            continue;
        while (k < g->n && (g->lx[k].type == LX_COLON || g->lx[k].type == LX_JOIN))
            k++;
        {
            size_t first = k, last = SIZE_MAX;

            for (; k < g->n; k++) {
                struct lexeme *y = &g->lx[k];

                if (y->type == LX_SEP || y->type == LX_COLON)
                    break;
                if (runnable(y) && !(fld == FLD_NAME && y->type == LX_NUM)) {
                    y->field = fld;
                    last = k;
                } else if (fld == FLD_DESC && y->role == R_FILL) {
                    continue;
                } else {
                    break;
                }
            }
            if (fld == FLD_AREA && last != SIZE_MAX && last > first)
                area_label_own_value(g, first, last);
        }
    }
}

static void piece_attrs(struct tl_grammar *g, struct piece *p)
{
    size_t words = 0, letters = 0;
    bool desc = false, place = true;

    for (size_t k = p->a; k <= p->b; k++) {
        const struct lexeme *x = &g->lx[k];

        if (is_word(x)) {
            words++;
            letters += x->ncp;
            if (has(x, F_DESC))
                desc = true;
            if (!has(x, F_PLACE | F_ADDR) && x->ncp > 1)
                place = false;
        }
    }
    p->nwords = words;
    p->nletters = letters;
    p->desc = desc;
    p->place_only = place;
    p->loc = false;
    if (p->a > 0) {
        const struct lexeme *x = &g->lx[p->a - 1];

        if (x->role == R_FILL && has(x, F_LOC_PRE))
            p->loc = true;
    }
    for (size_t k = p->b + 1; k < g->n && k <= p->b + 2; k++) {
        const struct lexeme *x = &g->lx[k];

        if (x->role != R_FILL)
            break;
        if (has(x, F_LOC_POST))
            p->loc = true;
    }
}

static void piece_push(struct tl_grammar *g, struct piece *list, size_t *n, size_t a, size_t b,
                       uint8_t field)
{
    struct piece *p;

    /* no joiners or symbols at the ends */
    while (a <= b && !is_content(&g->lx[a]))
        a++;
    while (b > a && !is_content(&g->lx[b]))
        b--;
    if (a > b || !is_content(&g->lx[a]) || *n >= MAX_PIECES)
        return;
    p = &list[(*n)++];
    memset(p, 0, sizeof *p);
    p->a = a;
    p->b = b;
    p->field = field;
    piece_attrs(g, p);
}

static void piece_match(struct tl_grammar *g, struct piece *p)
{
    if (p->matched)
        return;
    p->matched = true;
    p->mk = gz_match(g, p->a, p->b, p->cands, &p->ncands);
}

static bool strong(enum tl_match_kind mk)
{
    return mk == TL_MATCH_EXACT || mk == TL_MATCH_FUZZY;
}

/* Words a window of an area name may not start or end with. */
static bool window_edge_bad(const struct lexeme *x)
{
    return !is_word(x) || x->ncp < 2 || has(x, F_DESC | F_ADDR | F_PLACE | F_MF);
}

/*
 * Looks for an exact area name of 1-3 words inside lexemes [a, b] (whole
 * run excluded). On success sets [*wa, *wb] (extended over a following
 * "block 5", "no 6", "5") and the candidates, and returns true.
 */
static bool find_window(struct tl_grammar *g, size_t a, size_t b, size_t nwords, size_t *wa,
                        size_t *wb, struct tl_area_candidate *c, size_t *nc)
{
    size_t words[32], nw = 0;

    for (size_t k = a; k <= b && nw < 32; k++) {
        if (is_word(&g->lx[k]))
            words[nw++] = k;
    }
    for (size_t size = nwords > 3 ? 3 : nwords - 1; size >= 1; size--) {
        for (size_t s = 0; s + size <= nw; s++) {
            size_t fa = words[s], fb = words[s + size - 1];

            if (window_edge_bad(&g->lx[fa]) || window_edge_bad(&g->lx[fb]))
                continue;
            if (fa == a && fb == b)
                continue;
            if (gz_match_exact(g, fa, fb, c, nc) == TL_MATCH_EXACT) {
                size_t k = fb + 1;

                /* "Korangi No. 5", "Gulshan block 13", "Korangi 5" */
                while (k <= b && (g->lx[k].type == LX_JOIN ||
                                  (is_word(&g->lx[k]) && has(&g->lx[k], F_ADDR)) ||
                                  (g->lx[k].type == LX_NUM && g->lx[k].ndig <= 3) ||
                                  (is_word(&g->lx[k]) && g->lx[k].ncp == 1 &&
                                   (g->lx[k - 1].type == LX_NUM))))
                    k++;
                while (k - 1 > fb && !is_content(&g->lx[k - 1]))
                    k--;
                {
                    bool number = false;

                    for (size_t t = fb + 1; t < k; t++)
                        number = number || g->lx[t].type == LX_NUM;
                    if (!number)
                        k = fb + 1; /* a "block" without its number stays out */
                }
                *wa = fa;
                *wb = k - 1;
                return true;
            }
            if (g->gz_calls >= GZ_BUDGET)
                return false;
        }
    }
    return false;
}

/* Builds the runs of free words into g->pieces, splitting out area names. */
static void report_pieces(struct tl_grammar *g)
{
    struct piece raw[MAX_PIECES];
    size_t nraw = 0;

    for (size_t i = 0; i < g->n;) {
        size_t j = i;

        if (!runnable(&g->lx[i])) {
            i++;
            continue;
        }
        while (j + 1 < g->n && runnable(&g->lx[j + 1]) && g->lx[j + 1].field == g->lx[i].field)
            j++;
        piece_push(g, raw, &nraw, i, j, g->lx[i].field);
        i = j + 1;
    }
    g->npieces = 0;
    for (size_t r = 0; r < nraw; r++) {
        struct piece *p = &raw[r];
        size_t wa, wb, nc;
        struct tl_area_candidate c[TL_GRAMMAR_MAX_CANDS];

        if (g->npieces >= MAX_PIECES)
            break; /* only a message of dozens of separate runs gets here */
        if (p->field != FLD_NONE || p->nwords < 2 || p->nwords > 8 || g->gz == NULL ||
            g->npieces + 3 > MAX_PIECES) {
            g->pieces[g->npieces++] = *p;
            continue;
        }
        piece_match(g, p);
        if (strong(p->mk) || !find_window(g, p->a, p->b, p->nwords, &wa, &wb, c, &nc)) {
            g->pieces[g->npieces++] = *p;
            continue;
        }
        if (wa > p->a)
            piece_push(g, g->pieces, &g->npieces, p->a, wa - 1, FLD_NONE);
        {
            size_t before = g->npieces;

            piece_push(g, g->pieces, &g->npieces, wa, wb, FLD_NONE);
            if (g->npieces > before) {
                struct piece *w = &g->pieces[before];

                w->matched = true;
                w->mk = TL_MATCH_EXACT;
                w->ncands = nc;
                memcpy(w->cands, c, nc * sizeof *c);
            }
        }
        if (wb < p->b)
            piece_push(g, g->pieces, &g->npieces, wb + 1, p->b, FLD_NONE);
    }
}

static bool name_ok(const struct piece *p)
{
    return p->field == FLD_NONE && p->out == FLD_NONE && !p->loc && !p->desc && !p->place_only &&
           p->nwords > 0 && p->nletters >= 2;
}

/* Searches the last-seen text for an area; true when one was set. */
static bool area_from_last_seen(struct tl_grammar *g, const struct report *r,
                                struct tl_sms_parse *out)
{
    for (size_t l = 0; l < r->nls; l++) {
        for (size_t i = r->ls[l][0]; i < r->ls[l][1];) {
            size_t j = i;
            struct tl_area_candidate c[TL_GRAMMAR_MAX_CANDS];
            size_t nc, wa, wb, nwords = 0;
            enum tl_match_kind mk;
            const struct lexeme *x = &g->lx[i];

            if (!is_word(x) || has(x, F_FILL | F_LOC_PRE | F_LOC_POST | F_TIMEW | F_DESC |
                                          F_POLITE | F_SEENW | F_GAYA)) {
                i++;
                continue;
            }
            while (j + 1 < r->ls[l][1] &&
                   ((is_word(&g->lx[j + 1]) &&
                     !has(&g->lx[j + 1], F_FILL | F_LOC_PRE | F_LOC_POST | F_TIMEW | F_DESC |
                                             F_POLITE | F_SEENW | F_GAYA)) ||
                    g->lx[j + 1].type == LX_JOIN || g->lx[j + 1].type == LX_NUM))
                j++;
            while (j > i && !is_content(&g->lx[j]))
                j--;
            for (size_t k = i; k <= j; k++)
                nwords += is_word(&g->lx[k]);
            mk = gz_match(g, i, j, c, &nc);
            if (strong(mk)) {
                span_set(g, i, j, out->area_text);
                out_area(out, mk, c, nc);
                return true;
            }
            if (nwords >= 2 && find_window(g, i, j, nwords, &wa, &wb, c, &nc)) {
                span_set(g, wa, wb, out->area_text);
                out_area(out, TL_MATCH_EXACT, c, nc);
                return true;
            }
            if (mk == TL_MATCH_AMBIGUOUS && out->area_text[0] == '\0') {
                span_set(g, i, j, out->area_text);
                out_area(out, mk, c, nc);
            }
            i = j + 1;
        }
    }
    return false;
}

/* Does any lexeme between a and b (exclusive) separate two description parts? */
static bool desc_gap_ok(const struct tl_grammar *g, size_t a, size_t b)
{
    for (size_t k = a + 1; k < b; k++) {
        const struct lexeme *x = &g->lx[k];

        if (x->type == LX_SEP || x->type == LX_COLON)
            return false;
        if (x->role != R_FILL && x->type != LX_JOIN && x->type != LX_OTHER)
            return false;
    }
    return true;
}

static void report_text_fields(struct tl_grammar *g, const struct report *r,
                               struct tl_sms_parse *out)
{
    size_t len = 0;
    size_t prev = SIZE_MAX, start = SIZE_MAX;

    /* description: the pieces marked DESC, joined across fillers */
    for (size_t k = 0; k <= g->n; k++) {
        bool in = k < g->n && g->lx[k].out == FLD_DESC;

        if (in) {
            if (start != SIZE_MAX && !desc_gap_ok(g, prev, k)) {
                if (len > 0)
                    field_append(out->description, &len, ", ", 2);
                span_append(g, start, prev, out->description, &len);
                start = SIZE_MAX;
            }
            if (start == SIZE_MAX)
                start = k;
            prev = k;
        }
    }
    if (start != SIZE_MAX) {
        if (len > 0)
            field_append(out->description, &len, ", ", 2);
        span_append(g, start, prev, out->description, &len);
    }

    /* last seen: the text after each marker, and stray clock times */
    len = 0;
    for (size_t k = 0; k < g->n; k++) {
        size_t a = k, b;

        if (g->lx[k].role == R_LS) {
            for (size_t l = 0; l < r->nls; l++) {
                if (r->ls[l][0] == k) {
                    b = r->ls[l][1] - 1;
                    while (b > a && (g->lx[b].type == LX_JOIN || g->lx[b].role == R_DROP ||
                                     g->lx[b].type == LX_OTHER))
                        b--;
                    if (len > 0)
                        field_append(out->last_seen, &len, ", ", 2);
                    span_append(g, a, b, out->last_seen, &len);
                    k = r->ls[l][1] - 1;
                    break;
                }
            }
        } else if (g->lx[k].role == R_TIME) {
            b = k;
            while (b + 1 < g->n && (g->lx[b + 1].role == R_TIME ||
                                    (g->lx[b + 1].type == LX_JOIN && b + 2 < g->n &&
                                     g->lx[b + 2].role == R_TIME)))
                b++;
            if (len > 0)
                field_append(out->last_seen, &len, ", ", 2);
            span_append(g, a, b, out->last_seen, &len);
            k = b;
        }
    }
}

/*
 * Reads a report body: every lexeme not already given a role (the keyword
 * has R_KW). expect: TL_FIELD_* bits to look for among unlabelled runs.
 */
static void report_body(struct tl_grammar *g, unsigned expect, struct tl_sms_parse *out)
{
    struct report r;
    int name_p = -1, area_p = -1;

    memset(&r, 0, sizeof r);
    r.age = -1;
    r.first_ag = g->n;
    /* KHOYA, KHOYI, "kho gayi": the keyword agrees with the child's gender */
    for (size_t i = 0; i < g->n && r.weak == TL_GENDER_UNKNOWN; i++) {
        if (g->lx[i].role == R_KW && has(&g->lx[i], F_WMALE | F_WFEMALE))
            r.weak = has(&g->lx[i], F_WMALE) ? TL_GENDER_MALE : TL_GENDER_FEMALE;
    }
    report_last_seen(g, &r);
    report_phones(g, out);
    report_times(g);
    report_age(g, &r);
    report_gender(g, &r);
    report_fillers(g, &r);
    report_labels(g);
    report_pieces(g);

    /* labelled fields first */
    for (size_t p = 0; p < g->npieces; p++) {
        struct piece *pc = &g->pieces[p];

        if (pc->field == FLD_NAME && name_p < 0) {
            name_p = (int)p;
            pc->out = FLD_NAME;
        } else if (pc->field == FLD_AREA && area_p < 0) {
            area_p = (int)p;
            pc->out = FLD_AREA;
        } else if (pc->field == FLD_DESC) {
            pc->out = FLD_DESC;
        }
    }

    /* the name: the first run that is not an area (see the top of the file) */
    if (name_p < 0 && (expect & TL_FIELD_NAME)) {
        size_t nstrong = 0;
        bool area_known = area_p >= 0 || !(expect & TL_FIELD_AREA);

        for (size_t p = 0; p < g->npieces; p++) {
            struct piece *pc = &g->pieces[p];

            if (pc->field != FLD_NONE || pc->desc)
                continue;
            piece_match(g, pc);
            if (strong(pc->mk))
                nstrong++;
        }
        for (size_t p = 0; p < g->npieces && name_p < 0; p++) {
            struct piece *pc = &g->pieces[p];

            if (!name_ok(pc))
                continue;
            if (!strong(pc->mk) || area_known || nstrong >= 2 ||
                (pc->mk == TL_MATCH_FUZZY && pc->a < r.first_ag)) {
                name_p = (int)p;
                pc->out = FLD_NAME;
            }
        }
    }

    /* the area: the best match among the other runs */
    if (area_p < 0 && (expect & TL_FIELD_AREA)) {
        int best = 0;

        for (size_t p = 0; p < g->npieces; p++) {
            struct piece *pc = &g->pieces[p];
            int score;

            if (pc->field != FLD_NONE || pc->out != FLD_NONE || pc->desc || pc->place_only)
                continue;
            piece_match(g, pc);
            score = pc->mk == TL_MATCH_EXACT ? 6 : pc->mk == TL_MATCH_FUZZY ? 4
                                               : pc->mk == TL_MATCH_AMBIGUOUS ? 2 : 0;
            if (score > 0 && pc->loc)
                score++;
            if (score > best) {
                best = score;
                area_p = (int)p;
            }
        }
        /* nothing known: a run marked as a place, else the first short one */
        if (area_p < 0) {
            for (size_t pass = 0; pass < 2 && area_p < 0; pass++) {
                for (size_t p = 0; p < g->npieces; p++) {
                    struct piece *pc = &g->pieces[p];

                    if (pc->field != FLD_NONE || pc->out != FLD_NONE || pc->desc ||
                        pc->place_only || pc->nwords == 0 || pc->nwords > 3 ||
                        (pass == 0 && !pc->loc))
                        continue;
                    area_p = (int)p;
                    break;
                }
            }
        }
        if (area_p >= 0)
            g->pieces[area_p].out = FLD_AREA;
    }
    if (area_p >= 0) {
        struct piece *pc = &g->pieces[area_p];

        piece_match(g, pc);
        span_set(g, pc->a, pc->b, out->area_text);
        out_area(out, pc->mk, pc->cands, pc->ncands);
    }
    if (out->area == NULL && (expect & TL_FIELD_AREA) && r.nls > 0 &&
        area_from_last_seen(g, &r, out) && area_p >= 0)
        g->pieces[area_p].out = FLD_NONE; /* the guess gives way to a known area */

    if (name_p >= 0)
        span_set(g, g->pieces[name_p].a, g->pieces[name_p].b, out->name);
    for (size_t p = 0; p < g->npieces; p++) {
        struct piece *pc = &g->pieces[p];

        if (pc->out == FLD_NONE)
            pc->out = FLD_DESC;
        for (size_t k = pc->a; k <= pc->b; k++)
            g->lx[k].out = pc->out;
    }
    report_text_fields(g, &r, out);

    out->age = r.age;
    out->gender = r.gender != TL_GENDER_UNKNOWN ? r.gender : r.weak;
    out->missing = 0;
    if (out->name[0] == '\0')
        out->missing |= TL_FIELD_NAME;
    if (out->age < 0)
        out->missing |= TL_FIELD_AGE;
    if (out->area == NULL)
        out->missing |= TL_FIELD_AREA;
}

/* ------------------------------------------------------------- the parse --- */

static void sms_reset(struct tl_sms_parse *out, enum tl_lang hint)
{
    out->command = TL_CMD_UNKNOWN;
    out->lang = hint;
    out->error = NULL;
    out->keyword = NULL;
    out->name[0] = '\0';
    out->age = -1;
    out->gender = TL_GENDER_UNKNOWN;
    out->area = NULL;
    out->area_match = TL_MATCH_NONE;
    out->ncands = 0;
    out->area_text[0] = '\0';
    out->last_seen[0] = '\0';
    out->description[0] = '\0';
    out->contact[0] = '\0';
    out->case_no[0] = '\0';
    out->case_valid = false;
    out->pin[0] = '\0';
    out->text[0] = '\0';
    out->missing = 0;
}

/* Validates and lexes; false (with out->error) when the text is refused. */
static bool parse_begin(struct tl_grammar *g, const struct tl_gazetteer *gz, const char *text,
                        size_t len, enum tl_lang hint, struct tl_sms_parse *out)
{
    sms_reset(out, hint);
    if (len > TL_GRAMMAR_MAX_INPUT) {
        out->error = "message too long";
        return false;
    }
    if (len > 0 && (text == NULL || !tl_utf8_valid(text, len))) {
        out->error = "invalid UTF-8";
        return false;
    }
    g->text = text ? text : "";
    g->len = len;
    g->gz = gz;
    g->gz_calls = 0;
    g->npieces = 0;
    lex_all(g);
    return true;
}

static enum tl_lang detect_lang(const struct tl_grammar *g, enum tl_lang hint)
{
    size_t en = 0, ro = 0;

    for (size_t i = 0; i < g->n; i++) {
        const struct lexeme *x = &g->lx[i];

        if (x->type == LX_AWORD)
            return TL_LANG_UR;
        if (x->ent == NULL)
            continue;
        if (x->ent->f & F_EN)
            en++;
        if (x->ent->f & F_RO)
            ro++;
    }
    if (ro > 0 && ro >= en)
        return TL_LANG_ROMAN_UR;
    if (en > 0)
        return TL_LANG_EN;
    return hint;
}

/*
 * A report whose keyword is not its first word ("meri beti Hina Saddar se
 * gum ho gayi", "my son is missing") counts only with a sign of a person: a
 * name, an age, or a relation or gender word (beta, beti, son, behen …),
 * and no thing that went missing instead ("my phone is missing").
 */
static bool report_evidence(const struct tl_grammar *g, const struct kwhit *hit,
                            const struct tl_sms_parse *out)
{
    bool thing = false, first = true, person = false;

    for (size_t i = 0; i < hit->a; i++) {
        if (!is_punct(&g->lx[i]) && !(is_word(&g->lx[i]) && has(&g->lx[i], F_POLITE)))
            first = false;
    }
    if (first)
        return true;
    for (size_t i = 0; i < g->n; i++) {
        if (!is_word(&g->lx[i]) || g->lx[i].role == R_KW)
            continue;
        thing = thing || has(&g->lx[i], F_THING);
        person = person || has(&g->lx[i], F_MALE | F_FEMALE); /* beta, beti, son, behen */
    }
    if (out->age >= 0 || person)
        return true;
    return out->name[0] != '\0' && !thing;
}

/* Finds the command; false when there is none. */
static bool detect_command(struct tl_grammar *g, struct kwhit *hit)
{
    size_t first = g->n;
    struct kwhit h, found = {0}, report = {0}, unsub = {0}, help = {0}, fuzzy = {0};

    for (size_t i = 0; i < g->n; i++) {
        const struct lexeme *x = &g->lx[i];

        if (is_punct(x))
            continue;
        if (is_word(x) && has(x, F_POLITE) && !has(x, F_KW))
            continue;
        first = i;
        break;
    }
    if (first < g->n && kw_at(g, first, &h) && h.cmd != TL_CMD_HELP) {
        *hit = h;
        return true;
    }
    for (size_t i = first; i < g->n; i++) {
        if (!is_word(&g->lx[i]))
            continue;
        if (kw_at(g, i, &h)) {
            if (h.cmd == TL_CMD_FOUND && h.b > h.a + 1 && found.cmd == 0)
                found = h;
            else if (h.cmd == TL_CMD_REPORT && report.cmd == 0 &&
                     (i == first || has(&g->lx[i], F_ANY) || h.b > h.a + 1))
                report = h;
            else if (h.cmd == TL_CMD_UNSUBSCRIBE && unsub.cmd == 0 &&
                     (i == first || has(&g->lx[i], F_ANY)))
                unsub = h;
            else if (h.cmd == TL_CMD_HELP && help.cmd == 0 && (i == first || has(&g->lx[i], F_ANY)))
                help = h;
            continue;
        }
        if (report.cmd == 0 || (i == first && fuzzy.cmd == 0)) {
            const struct lexent *e = kw_fuzzy(g, &g->lx[i], i != first);

            if (e != NULL) {
                struct kwhit f = {(enum tl_command)e->cmd, i, i + 1, e->word};

                if (i == first)
                    fuzzy = f;
                else if (report.cmd == 0)
                    report = f;
            }
        }
    }
    if (help.cmd != 0 && help.a == first && report.cmd != 0)
        help.cmd = TL_CMD_UNKNOWN; /* "HELP my son is missing" is a report */
    if (help.cmd != 0 && help.a == first) {
        *hit = help;
        return true;
    }
    if (fuzzy.cmd != 0 && fuzzy.cmd != TL_CMD_REPORT && report.cmd == 0 && found.cmd == 0) {
        *hit = fuzzy;
        return true;
    }
    if (found.cmd != 0) {
        *hit = found;
        return true;
    }
    if (fuzzy.cmd == TL_CMD_REPORT && report.cmd == 0)
        report = fuzzy;
    if (report.cmd != 0) {
        *hit = report;
        return true;
    }
    if (fuzzy.cmd != 0) {
        *hit = fuzzy;
        return true;
    }
    if (unsub.cmd != 0) {
        *hit = unsub;
        return true;
    }
    if (help.cmd != 0) {
        *hit = help;
        return true;
    }
    return false;
}

void grammar_parse(struct tl_grammar *g, const struct tl_gazetteer *gz, const char *text,
                   size_t len, enum tl_lang hint, struct tl_sms_parse *out)
{
    struct kwhit hit;
    size_t k;

    if (!parse_begin(g, gz, text, len, hint, out))
        return;
    out->lang = detect_lang(g, hint);
    if (!detect_command(g, &hit))
        return;
    for (size_t i = hit.a; i < hit.b; i++)
        g->lx[i].role = R_KW;
    out->keyword = hit.kw;
    out->command = hit.cmd;
    k = hit.b;

    switch (hit.cmd) {
    case TL_CMD_REPORT:
        report_body(g, TL_FIELD_NAME | TL_FIELD_AGE | TL_FIELD_AREA, out);
        if (!report_evidence(g, &hit, out)) {
            sms_reset(out, out->lang); /* "my phone is missing", "bag gum ho gaya" */
            out->lang = detect_lang(g, hint);
        }
        break;
    case TL_CMD_SUBSCRIBE:
        rest_area(g, k, false, out);
        break;
    case TL_CMD_UNSUBSCRIBE: {
        size_t c = read_case(g, k, out);

        if (c != k && has(&g->lx[hit.a], F_BAND)) {
            /* BAND 482918 [reason]: a police CLOSE */
            out->command = TL_CMD_CLOSE;
            rest_text(g, c, out->text);
            break;
        }
        out->case_no[0] = '\0';
        out->case_valid = false;
        for (size_t i = k; i < g->n; i++) {
            if (g->lx[i].role == R_ARG)
                g->lx[i].role = R_FREE;
        }
        rest_area(g, k, true, out);
        break;
    }
    case TL_CMD_SIGHTING:
    case TL_CMD_CLOSE: {
        size_t c = read_case(g, k, out);

        if (c == k) {
            size_t at = find_case(g, k, out);
            size_t b = g->n;

            /* a case number typed last is no part of the text */
            if (at < g->n) {
                size_t e = at + 1;

                while (e < g->n && is_punct(&g->lx[e]))
                    e++;
                if (e < g->n)
                    g->lx[at].role = R_FREE;
                else
                    b = at;
            }
            if (trim_range(g, &k, &b, 0)) {
                size_t t = 0;

                while (b > k && g->lx[b - 1].role == R_ARG)
                    b--;
                /* the words before the case number, when it ends the text */
                while (b > k && (is_punct(&g->lx[b - 1]) ||
                                 (is_word(&g->lx[b - 1]) && has(&g->lx[b - 1], F_CASEW))))
                    b--;
                if (b > k) {
                    out->text[0] = '\0';
                    span_append(g, k, b - 1, out->text, &t);
                }
            }
        } else {
            rest_text(g, c, out->text);
        }
        break;
    }
    case TL_CMD_STATUS:
        if (read_case(g, k, out) == k)
            find_case(g, k, out);
        break;
    case TL_CMD_VERIFY:
    case TL_CMD_FOUND:
    case TL_CMD_CANCEL: {
        size_t c = read_case(g, k, out);

        if (c == k) {
            size_t at = find_case(g, k, out);

            if (at < g->n)
                read_pin(g, at + 1, out);
        } else {
            read_pin(g, c, out);
        }
        break;
    }
    case TL_CMD_WIDEN: {
        size_t c = read_case(g, k, out);

        rest_area(g, c, false, out);
        break;
    }
    case TL_CMD_AREAS:
        rest_text(g, k, out->area_text);
        break;
    case TL_CMD_HELP:
    case TL_CMD_UNKNOWN:
    default:
        break;
    }
    if (out->command == TL_CMD_REPORT || out->command == TL_CMD_SUBSCRIBE ||
        out->command == TL_CMD_WIDEN)
        near_misses(g, out);
}

void grammar_parse_answer(struct tl_grammar *g, const struct tl_gazetteer *gz, const char *text,
                          size_t len, enum tl_lang hint, unsigned expect,
                          struct tl_sms_parse *out)
{
    unsigned got = 0;

    if (!parse_begin(g, gz, text, len, hint, out))
        return;
    out->lang = detect_lang(g, hint);
    out->command = TL_CMD_REPORT;
    report_body(g, expect & (TL_FIELD_NAME | TL_FIELD_AGE | TL_FIELD_AREA), out);
    near_misses(g, out);
    if (out->name[0] != '\0')
        got |= TL_FIELD_NAME;
    if (out->age >= 0)
        got |= TL_FIELD_AGE;
    if (out->area != NULL)
        got |= TL_FIELD_AREA;
    out->missing = expect & ~got & (TL_FIELD_NAME | TL_FIELD_AGE | TL_FIELD_AREA);
}

/* ---------------------------------------------------------------- JSON --- */

static void json_str(struct tl_buf *b, const char *key, const char *val)
{
    tl_buf_append_str(b, ",\"");
    tl_buf_append_str(b, key);
    tl_buf_append_str(b, "\":\"");
    tl_buf_append_json(b, val, strlen(val));
    tl_buf_append_char(b, '"');
}

void grammar_render_json(const struct tl_sms_parse *p, struct tl_buf *b)
{
    tl_buf_append_str(b, "{\"command\":\"");
    tl_buf_append_str(b, grammar_command_name(p->command));
    tl_buf_append_str(b, "\",\"lang\":\"");
    tl_buf_append_str(b, grammar_lang_name(p->lang));
    tl_buf_append_char(b, '"');
    if (p->name[0])
        json_str(b, "name", p->name);
    if (p->age >= 0)
        tl_buf_appendf(b, ",\"age\":%d", p->age);
    if (p->gender != TL_GENDER_UNKNOWN)
        json_str(b, "gender", p->gender == TL_GENDER_MALE ? "male" : "female");
    if (p->area != NULL && p->area->name_en != NULL)
        json_str(b, "area", p->area->name_en);
    if (p->area_text[0])
        json_str(b, "area_text", p->area_text);
    if (p->last_seen[0])
        json_str(b, "last_seen", p->last_seen);
    if (p->description[0])
        json_str(b, "description", p->description);
    if (p->case_no[0]) {
        json_str(b, "case", p->case_no);
        tl_buf_append_str(b, p->case_valid ? ",\"case_valid\":true" : ",\"case_valid\":false");
    }
    if (p->pin[0])
        json_str(b, "pin", p->pin);
    if (p->text[0])
        json_str(b, "text", p->text);
    if (p->command == TL_CMD_REPORT) {
        bool first = true;

        tl_buf_append_str(b, ",\"missing\":[");
        if (p->missing & TL_FIELD_NAME) {
            tl_buf_append_str(b, "\"name\"");
            first = false;
        }
        if (p->missing & TL_FIELD_AGE) {
            tl_buf_append_str(b, first ? "\"age\"" : ",\"age\"");
            first = false;
        }
        if (p->missing & TL_FIELD_AREA)
            tl_buf_append_str(b, first ? "\"area\"" : ",\"area\"");
        tl_buf_append_char(b, ']');
    }
    if (p->error)
        json_str(b, "error", p->error);
    tl_buf_append_char(b, '}');
}

void grammar_take_candidate(struct tl_sms_parse *p, size_t i)
{
    if (p == NULL || i >= p->ncands || p->cands[i].area == NULL)
        return;
    p->area = p->cands[i].area;
    p->area_match = p->cands[i].distance == 0 ? TL_MATCH_EXACT : TL_MATCH_FUZZY;
    p->missing &= ~(unsigned)TL_FIELD_AREA;
}

bool grammar_prefer_area(struct tl_sms_parse *p, const struct tl_gazetteer *gz,
                         const struct tl_area *const *within, size_t n)
{
    int pick;

    if (p == NULL || p->area != NULL || p->area_match != TL_MATCH_AMBIGUOUS)
        return false;
    pick = gazetteer_prefer(gz, p->cands, p->ncands, within, n);
    if (pick < 0)
        return false;
    grammar_take_candidate(p, (size_t)pick);
    return true;
}
