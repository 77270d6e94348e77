# tok: libtok (tokenizers), engine (GGUF inference), pipeline (recipes), cli.
# Every layer's *.c is picked up by wildcard; each tests/unit/test_*.c is its
# own test program. `make help` lists the targets.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build

SOVERSION  := 0
VERSION    := 0.1.0

CC      ?= cc
ARCH    ?= -march=native
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CPPFLAGS_ALL := -std=c11 -D_GNU_SOURCE -Ilibtok -Iengine -Ipipeline \
                -DTOK_DATADIR='"$(PREFIX)/share/tok"' $(CPPFLAGS)
ALL_CFLAGS := $(CPPFLAGS_ALL) $(WARN) $(ARCH) -fPIC -pthread $(CFLAGS) $(EXTRA_CFLAGS)
LIBS    := -lpcre2-8 -lutf8proc -lcjson -lyaml -lcurl -lmicrohttpd -lm -lpthread
LDFLAGS_ALL := -pthread $(LDFLAGS) $(EXTRA_LDFLAGS)

LIBTOK_SRC   := $(sort $(wildcard libtok/*.c))
ENGINE_SRC   := $(sort $(wildcard engine/*.c))
PIPELINE_SRC := $(sort $(wildcard pipeline/*.c))
CLI_SRC      := $(sort $(wildcard cli/*.c))
TEST_SRC     := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC    := $(sort $(wildcard bench/*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIBTOK_OBJ   := $(call obj,$(LIBTOK_SRC))
ENGINE_OBJ   := $(call obj,$(ENGINE_SRC))
PIPELINE_OBJ := $(call obj,$(PIPELINE_SRC))
CLI_OBJ      := $(call obj,$(CLI_SRC))
TEST_BIN     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCH_BIN    := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

STATIC_LIBS := $(BUILD)/libtok_pipeline.a $(BUILD)/libtok_engine.a $(BUILD)/libtok.a

.PHONY: all test asan bench install uninstall deps clean help fuzz
all: $(BUILD)/libtok.a $(BUILD)/libtok.so.$(VERSION) $(BUILD)/tok $(BUILD)/tok.pc

help:
	@echo "make [all]   build libtok.a, libtok.so, engine/pipeline libs and the tok binary"
	@echo "make test    build with warnings as errors and run every test"
	@echo "make asan    the tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	@echo "make bench   throughput beside the peers that are present"
	@echo "make fuzz    longer fuzzing of every parser of outside input"
	@echo "make install PREFIX=... DESTDIR=...   headers, libs, tok.pc, tok, data"
	@echo "make deps    install the Debian packages the build and tests need"

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libtok.a: $(LIBTOK_OBJ)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libtok_engine.a: $(ENGINE_OBJ)
	@rm -f $@; ar rcs $@ $^ $(if $^,,)
$(BUILD)/libtok_pipeline.a: $(PIPELINE_OBJ)
	@rm -f $@; ar rcs $@ $^ $(if $^,,)

$(BUILD)/libtok.so.$(VERSION): $(LIBTOK_OBJ)
	$(CC) -shared -Wl,-soname,libtok.so.$(SOVERSION) $(LDFLAGS_ALL) -o $@ $^ -lpcre2-8 -lutf8proc -lcjson -lm -lpthread
	ln -sf libtok.so.$(VERSION) $(BUILD)/libtok.so.$(SOVERSION)
	ln -sf libtok.so.$(SOVERSION) $(BUILD)/libtok.so

$(BUILD)/tok: $(CLI_OBJ) $(STATIC_LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(STATIC_LIBS) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(STATIC_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(STATIC_LIBS) $(LIBS) $(LDFLAGS_ALL)

$(BUILD)/bench/%: bench/%.c $(STATIC_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STATIC_LIBS) $(LIBS) $(LDFLAGS_ALL)

$(BUILD)/tok.pc: Makefile
	@mkdir -p $(BUILD)
	@printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: tok\nDescription: tokenizers compatible with tiktoken, Hugging Face and SentencePiece\nVersion: %s\nRequires.private: libpcre2-8 libcjson\nLibs: -L$${libdir} -ltok\nLibs.private: -lutf8proc -lm -lpthread\nCflags: -I$${includedir}\n' '$(PREFIX)' '$(VERSION)' > $@

test: all $(TEST_BIN)
	@BUILD=$(BUILD) bash tests/run.sh

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  EXTRA_CFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	  EXTRA_LDFLAGS='-fsanitize=address,undefined' test

bench: all $(BENCH_BIN)
	@BUILD=$(BUILD) bash bench/run.sh

fuzz: all
	@BUILD=$(BUILD) bash tests/fuzz.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
	           $(DESTDIR)$(PREFIX)/share/tok
	install -m 755 $(BUILD)/tok $(DESTDIR)$(PREFIX)/bin/tok
	install -m 644 $(BUILD)/libtok.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libtok.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libtok.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libtok.so.$(SOVERSION)
	ln -sf libtok.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libtok.so
	install -m 644 libtok/tok.h $(DESTDIR)$(PREFIX)/include/tok.h
	install -m 644 $(BUILD)/tok.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/tok.pc
	cp -r data/. $(DESTDIR)$(PREFIX)/share/tok/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tok $(DESTDIR)$(PREFIX)/lib/libtok.* $(DESTDIR)$(PREFIX)/include/tok.h \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/tok.pc
	rm -rf $(DESTDIR)$(PREFIX)/share/tok

DEB_PACKAGES := build-essential pkg-config libpcre2-dev libutf8proc-dev libcjson-dev libyaml-dev \
                libcurl4-openssl-dev libmicrohttpd-dev python3 ca-certificates
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PACKAGES)

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
