package KairosTest;

# Starts a real `kairos serve` on a free loopback port with a fresh storage and
# talks to it over HTTP, for the tests in t/api. Core modules only.
#
#   for_each_backend(sub {
#       my ($srv) = @_;
#       my ($status, $body, $headers) = $srv->request(GET => '/users/me', token => $access);
#   });
#
# Each server gets its own temporary directory: the SpatiaLite file, the var
# directory and server.log (stdout and stderr of the server). The mail log
# transport writes each message, with its link, to that log, which is how tests
# read verification and password-reset tokens. Set KAIROS_TEST_KEEP=1 to keep
# these directories after the run.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(decode_base64 encode_base64);
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(for_each_backend start_server free_port json_decode jwt_claims hex_id unique_email
    is_rfc3339_ms distance_m);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

my %running;    # pid => server, for the END block
my $email_seq = 0;

$SIG{PIPE} = 'IGNORE';

sub default_binary {
    return $ENV{KAIROS_BIN} if $ENV{KAIROS_BIN};
    my $root = abs_path(dirname(__FILE__) . '/../..');
    return "$root/build/kairos";
}

sub json_decode {
    my ($text) = @_;
    return undef unless defined $text && length $text;
    my $data = eval { $JSON->decode($text) };
    return $data;
}

# Decodes the claims of a JWT without checking its signature.
sub jwt_claims {
    my ($token) = @_;
    my (undef, $payload) = split /\./, $token // '';
    return undef unless defined $payload;
    $payload =~ tr{-_}{+/};
    $payload .= '=' x ((4 - length($payload) % 4) % 4);
    return json_decode(decode_base64($payload));
}

sub hex_id { return defined $_[0] && $_[0] =~ /\A[0-9a-f]{24}\z/ }

sub is_rfc3339_ms { return defined $_[0] && $_[0] =~ /\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/ }

sub unique_email {
    my ($label) = @_;
    $email_seq++;
    return sprintf '%s-%d-%d@example.com', $label // 'rider', $$, $email_seq;
}

# Great-circle distance in metres on the sphere of radius 6378100 m, the model
# of the API (and of MongoDB's spherical geo queries).
sub distance_m {
    my ($lng1, $lat1, $lng2, $lat2) = @_;
    my $rad = atan2(1, 1) / 45;
    my $dlat = ($lat2 - $lat1) * $rad;
    my $dlng = ($lng2 - $lng1) * $rad;
    my $h = sin($dlat / 2)**2 + cos($lat1 * $rad) * cos($lat2 * $rad) * sin($dlng / 2)**2;
    $h = 1 if $h > 1;
    return 2 * 6378100 * atan2(sqrt($h), sqrt(1 - $h));
}

sub random_hex {
    my ($bytes) = @_;
    open my $fh, '<:raw', '/dev/urandom' or croak "cannot open /dev/urandom: $!";
    read($fh, my $buf, $bytes) == $bytes or croak "short read from /dev/urandom";
    close $fh;
    return unpack 'H*', $buf;
}

sub free_port {
    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp', Listen => 1)
        or croak "cannot bind a loopback port: $!";
    my $port = $sock->sockport;
    close $sock;
    return $port;
}

# Gives a MongoDB URI a fresh database name, so that runs never share data.
# NOTE: nothing drops these databases afterwards (core Perl has no MongoDB
# driver), so a MongoDB used for tests collects one kairos_test_* per run.
sub fresh_mongo_uri {
    my ($uri) = @_;
    my $db = sprintf 'kairos_test_%d_%d', $$, int(time * 1000);
    $uri =~ m{\A(mongodb(?:\+srv)?://[^/?]+)(/[^?]*)?(\?.*)?\z}
        or croak "KAIROS_TEST_MONGO_URI is not a mongodb:// URI";
    return $1 . '/' . $db . ($3 // '');
}

# Starts a server. Options: storage (a URI or file path; default a fresh
# SpatiaLite file), env (a hash of extra environment variables), workers.
sub start_server {
    my (%opt) = @_;
    my $dir = tempdir('kairos-test-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{KAIROS_TEST_KEEP});
    mkdir "$dir/var" or croak "mkdir $dir/var: $!";
    my $port = free_port();
    my $self = bless {
        dir        => $dir,
        log        => "$dir/server.log",
        port       => $port,
        base       => "http://127.0.0.1:$port",
        secret_key => random_hex(32),
        storage    => $opt{storage} // "$dir/kairos.sqlite",
        binary     => $opt{binary} // default_binary(),
        owner_pid  => $$,
        # One connection per request: a connection the server closed while idle
        # must not turn a later POST into a client-side failure.
        http       => HTTP::Tiny->new(timeout => 15, keep_alive => 0, max_redirect => 0),
    }, __PACKAGE__;
    croak "kairos binary not found at $self->{binary}; build it with make" unless -x $self->{binary};

    my %env = (
        ENVIRONMENT     => 'local',
        KAIROS_STORAGE  => $self->{storage},
        KAIROS_LISTEN   => "127.0.0.1:$port",
        KAIROS_WORKERS  => $opt{workers} // 2,
        SECRET_KEY      => $self->{secret_key},
        KAIROS_VAR_DIR  => "$dir/var",
        FRONTEND_URL    => 'http://localhost:3000',
        %{ $opt{env} // {} },
    );

    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        # Only the variables above reach the server, whatever the caller's shell holds.
        for my $name (keys %ENV) {
            delete $ENV{$name}
                if $name =~ /\A(?:KAIROS_|MONGO_|RESEND_|CORS_|MAIL_|FRONTEND_URL|ENVIRONMENT|SECRET_KEY)/
                || $name =~ /_TOKEN_EXPIRE_MINUTES\z/;
        }
        $ENV{$_} = $env{$_} for keys %env;
        chdir $dir or die "chdir $dir: $!";    # so that no .env of the tree is read
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $self->{log} or die "open $self->{log}: $!";
        open STDERR, '>>&', \*STDOUT or die "dup stderr: $!";
        exec $self->{binary}, 'serve' or die "exec $self->{binary}: $!";
    }
    $self->{pid} = $pid;
    $running{$pid} = $self;

    my $deadline = time + 15;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $running{$pid};
            $self->{exit_status} = $?;
            croak "kairos serve exited with status $? before answering; log:\n" . $self->log_tail(30);
        }
        my $res = HTTP::Tiny->new(timeout => 2)->get("$self->{base}/api/v1/");
        return $self if $res->{status} == 200;
        sleep 0.05;
    }
    $self->stop;
    croak "kairos serve did not answer GET /api/v1/ within 15 s; log:\n" . $self->log_tail(30);
}

sub pid { $_[0]{pid} }
sub port { $_[0]{port} }
sub base_url { $_[0]{base} }
sub dir { $_[0]{dir} }
sub secret_key { $_[0]{secret_key} }
sub storage_name { $_[0]{storage} =~ m{\Amongodb(?:\+srv)?://} ? 'mongodb' : 'spatialite' }

# Sends SIGTERM and waits (at most 15 s). Returns the wait status ($?), or
# undef when the server had to be killed.
sub stop {
    my ($self) = @_;
    return $self->{exit_status} if exists $self->{exit_status};
    my $pid = $self->{pid};
    kill 'TERM', $pid;
    my $deadline = time + 15;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            $self->{exit_status} = $?;
            delete $running{$pid};
            return $self->{exit_status};
        }
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    delete $running{$pid};
    $self->{exit_status} = undef;
    return undef;
}

END {
    my $status = $?;
    # A forked test child must not stop the servers of its parent.
    $_->stop for grep { $_->{owner_pid} == $$ } values %running;
    $? = $status;
}

sub log_text {
    my ($self) = @_;
    open my $fh, '<:raw', $self->{log} or return '';
    local $/;
    my $text = <$fh>;
    return $text // '';
}

sub log_tail {
    my ($self, $lines) = @_;
    my @all = split /\n/, $self->log_text;
    splice @all, 0, @all - $lines if @all > $lines;
    return join("\n", @all) . "\n";
}

# Polls the log for up to $timeout seconds until it matches $re; returns the
# first match ($1 when the pattern captures, else the whole match) or undef.
sub wait_log {
    my ($self, $re, $timeout) = @_;
    my $deadline = time + ($timeout // 5);
    while (1) {
        my $text = $self->log_text;
        if ($text =~ $re) {
            return defined $1 ? $1 : $&;
        }
        return undef if time >= $deadline;
        sleep 0.05;
    }
}

# Waits (up to 5 s) for a mail token of $kind ('verify' or 'reset') whose
# subject claim is $email, and that is not in @$seen. Returns the token or undef.
sub wait_mail_token {
    my ($self, $kind, $email, $seen) = @_;
    my %seen = map { $_ => 1 } @{ $seen // [] };
    my $path = $kind eq 'verify' ? qr{/verify(?:-email)?} : qr{/reset-password};
    my $deadline = time + 5;
    while (1) {
        my $text = $self->log_text;
        while ($text =~ m{$path\?token=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)}g) {
            my $token = $1;
            next if $seen{$token};
            my $claims = jwt_claims($token);
            return $token if $claims && lc($claims->{sub} // '') eq lc $email;
        }
        return undef if time >= $deadline;
        sleep 0.1;
    }
}

# Sends a request to /api/v1$path, or to $path itself when raw_path is set.
# Options:
#   json    => data         body as JSON
#   form    => [k => v...]   body as application/x-www-form-urlencoded
#   body    => bytes, type => content type   raw body
#   token   => access token  sent as Authorization: Bearer
#   headers => {name => value}
#   raw_path => 1            send $path without the /api/v1 prefix
# Returns (status, decoded JSON body or undef, headers hash, raw body).
sub request {
    my ($self, $method, $path, %opt) = @_;
    my $url = $opt{raw_path} ? "$self->{base}$path" : "$self->{base}/api/v1$path";
    my %headers = %{ $opt{headers} // {} };
    $headers{Authorization} = "Bearer $opt{token}" if defined $opt{token};
    my %args = (headers => \%headers);

    if (exists $opt{json}) {
        $args{content} = $JSON->encode($opt{json});
        $headers{'Content-Type'} = 'application/json';
    } elsif (exists $opt{form}) {
        $args{content} = $self->{http}->www_form_urlencode($opt{form});
        $headers{'Content-Type'} = 'application/x-www-form-urlencoded';
    } elsif (exists $opt{body}) {
        $args{content} = $opt{body};
        $headers{'Content-Type'} = $opt{type} if defined $opt{type};
    }

    my $res = $self->{http}->request($method, $url, \%args);
    my $content = $res->{content} // '';
    return ($res->{status}, json_decode($content), $res->{headers}, $content);
}

sub query_string {
    my ($self, @pairs) = @_;
    return $self->{http}->www_form_urlencode(\@pairs);
}

sub register {
    my ($self, %fields) = @_;
    return $self->request(POST => '/users/register', json => \%fields);
}

sub login {
    my ($self, $email, $password) = @_;
    return $self->request(POST => '/auth/token', form => [username => $email, password => $password]);
}

# Registers and logs in a new user. Returns a hash: id, email, name, password,
# access, refresh, user (the answered user).
sub new_rider {
    my ($self, %opt) = @_;
    my $name = $opt{name} // 'Rider';
    my $email = $opt{email} // unique_email(lc($name) =~ s/\W+/-/gr);
    my $password = $opt{password} // 'correct-horse-' . random_hex(4);
    my ($status, $user) = $self->register(email => $email, name => $name, password => $password);
    croak "register $email failed with $status" unless $status == 201 && ref $user eq 'HASH';
    my ($login_status, $tokens) = $self->login($email, $password);
    croak "login $email failed with $login_status" unless $login_status == 200 && ref $tokens eq 'HASH';
    return {
        id       => $user->{_id},
        email    => $email,
        name     => $name,
        password => $password,
        access   => $tokens->{access_token},
        refresh  => $tokens->{refresh_token},
        user     => $user,
    };
}

# Creates a journey for $rider; returns its JSON (croaks unless 201).
sub create_journey {
    my ($self, $rider, %fields) = @_;
    $fields{name} //= 'Journey';
    my ($status, $journey) = $self->request(POST => '/journeys/', token => $rider->{access}, json => \%fields);
    croak "create journey failed with $status" unless $status == 201 && ref $journey eq 'HASH';
    return $journey;
}

# Adds a marker at [$lng, $lat] to journey $journey_id; returns its JSON.
sub add_marker {
    my ($self, $rider, $journey_id, $lng, $lat, %fields) = @_;
    my %marker = (
        name        => 'Marker',
        marker_type => 'past',
        coordinates => { type => 'Point', coordinates => [$lng, $lat] },
        timestamp   => '2026-06-12',
        %fields,
    );
    my ($status, $body) = $self->request(POST => "/journeys/$journey_id/markers", token => $rider->{access},
        json => \%marker);
    croak "add marker failed with $status" unless $status == 201 && ref $body eq 'HASH';
    return $body;
}

# Runs $body once per storage backend, each in a subtest with its own server:
# SpatiaLite always, MongoDB when KAIROS_TEST_MONGO_URI is set (otherwise the
# subtest is skipped by name). Server options (env, workers) go in $opt.
sub for_each_backend {
    my $opt = ref $_[0] eq 'HASH' ? shift : {};
    my ($body) = @_;

    subtest 'SpatiaLite' => sub {
        run_backend($opt, $body);
    };

    subtest 'MongoDB' => sub {
        unless ($ENV{KAIROS_TEST_MONGO_URI}) {
            # diag reaches prove's normal output, so the skip shows without -v.
            diag 'MongoDB run skipped: KAIROS_TEST_MONGO_URI is not set';
            plan skip_all => 'MongoDB run skipped: KAIROS_TEST_MONGO_URI is not set';
        }
        run_backend({ %$opt, storage => fresh_mongo_uri($ENV{KAIROS_TEST_MONGO_URI}) }, $body);
    };
}

sub run_backend {
    my ($opt, $body) = @_;
    my $srv = start_server(%$opt);
    $body->($srv);
    my $builder = Test::More->builder;
    diag "server.log (last 40 lines):\n" . $srv->log_tail(40) unless $builder->is_passing;
    return if $opt->{no_stop_check};
    my $status = $srv->stop;
    is $status, 0, 'server exits 0 on SIGTERM';
    # A sanitizer report in a worker does not fail a request (the master
    # respawns the worker), so the log is the place to look for one.
    my @reports = grep { /AddressSanitizer|LeakSanitizer|runtime error:/ } split /\n/, $srv->log_text;
    is_deeply \@reports, [], 'server log has no sanitizer report';
}

1;
