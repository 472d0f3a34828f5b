# Kairos build. `make` builds ./kairos; `make test` builds and runs the suite;
# `make check-asan` runs the same suite under AddressSanitizer and
# UndefinedBehaviorSanitizer; `make run` installs what is missing and serves.

PKGS     := libh2o-evloop libmongoc-1.0 libbson-1.0 sqlite3 jansson libjwt libsodium libcurl libcrypt
CC       ?= cc
BUILD    ?= build
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -I. -DH2O_USE_LIBUV=0 \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lssl -lcrypto -lm

LIB_SRC  := $(filter-out server/main.c,$(wildcard server/*.c)) \
            $(wildcard storage/*.c storage/spatialite/*.c storage/mongo/*.c auth/*.c mail/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard t/unit/*.c)
UNIT_BIN := $(UNIT_SRC:t/unit/%.c=$(BUILD)/t/%)
DEPS     := $(LIB_OBJ:.o=.d) $(BUILD)/server/main.d

.PHONY: all test check-asan run deps clean format

all: kairos

kairos: $(BUILD)/kairos
	cp $< $@

$(BUILD)/kairos: $(BUILD)/server/main.o $(BUILD)/libkairos.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libkairos.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/t/%: t/unit/%.c $(BUILD)/libkairos.a t/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libkairos.a $(LDLIBS)

test: $(BUILD)/kairos $(UNIT_BIN)
	KAIROS_BIN=$(abspath $(BUILD)/kairos) prove $(PROVE_FLAGS) $(UNIT_BIN) t/api/*.t

check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" test

deps:
	sh etc/install-deps.sh

run: deps kairos
	./kairos serve

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan kairos

-include $(DEPS)
