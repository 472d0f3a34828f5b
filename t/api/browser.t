# The documentation pages in a real browser: t/browser/docs.mjs drives
# Debian's Chromium through playwright-core over /docs (Swagger UI, with "Try
# it out" on GET /api/v1/) and /redoc, with every request to another host
# blocked. Screenshots go to t/out/.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Cwd qw(abs_path);
use JSON::PP;
use Test::More;
use KairosTest qw(start_server);

my $root = abs_path("$FindBin::Bin/../..");
my $chromium = $ENV{KAIROS_CHROMIUM} // '/usr/bin/chromium';
my $tools = "$root/build/node-tools";
my $run_timeout_s = 90;

plan skip_all => "browser test skipped: $chromium is missing (install the Debian package chromium)"
    unless -x $chromium;
plan skip_all => 'browser test skipped: node is missing (install the Debian package nodejs)'
    unless grep { -x "$_/node" } split /:/, $ENV{PATH} // '';

unless (-e "$tools/.installed" && -d "$tools/node_modules/playwright-core") {
    my $output = `sh '$root/etc/fetch-docs-assets.sh' test-tools '$tools' 2>&1`;
    plan skip_all => 'browser test skipped: installing playwright-core from npm failed: '
        . ((split /\n/, $output)[-1] // "exit status $?")
        if $? != 0 || !-d "$tools/node_modules/playwright-core";
}

my $srv = start_server(workers => 1);
$ENV{KAIROS_BASE_URL} = $srv->base_url;
$ENV{KAIROS_NODE_MODULES} = "$tools/node_modules";
$ENV{KAIROS_CHROMIUM} = $chromium;
$ENV{KAIROS_OUT_DIR} = "$root/t/out";

my $pid = open my $out, '-|', 'node', "$root/t/browser/docs.mjs";
BAIL_OUT("cannot run node: $!") unless $pid;

my @lines;
eval {
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm $run_timeout_s;
    while (my $line = <$out>) {
        push @lines, $line;
    }
    alarm 0;
    1;
} or do {
    kill 'TERM', $pid;
    fail "browser run finishes within $run_timeout_s s";
};
close $out;
is $? >> 8, 0, 'browser run exits 0';

my $checks = 0;
for my $line (@lines) {
    my $result = eval { JSON::PP->new->decode($line) };
    unless (ref $result eq 'HASH') {
        diag "docs.mjs: $line";
        next;
    }
    $checks++;
    ok $result->{ok}, $result->{name} or diag $result->{diag};
}
cmp_ok $checks, '>=', 18, 'browser run reports every check';

$srv->stop;
done_testing;
