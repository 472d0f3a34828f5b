# What the router and the body parser answer on their own: 404, 405, 413, 422
# on bodies, the optional trailing slash, and CORS.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use IO::Socket::INET;
use Test::More;
use KairosTest qw(for_each_backend start_server);

my @error_bodies;    # [what, status, decoded body] of every error answered

sub record_error {
    my ($what, $status, $body) = @_;
    push @error_bodies, [$what, $status, $body] if $status >= 400;
    return ($status, $body);
}

# A JSON object whose "extra" field nests arrays so that the whole body is
# $depth levels deep (the outer object is level 1).
sub nested_body {
    my ($depth) = @_;
    return '{"name":"Deep","extra":' . ('[' x ($depth - 1)) . (']' x ($depth - 1)) . '}';
}

for_each_backend(sub {
    my ($srv) = @_;
    my $rider = $srv->new_rider(name => 'Errant');
    my $token = $rider->{access};

    subtest 'unknown paths and methods' => sub {
        for my $path ('/nope', '/journeys/0123456789abcdef01234567/nope', '/users/me/extra/segments') {
            my ($status, $body) = record_error("GET $path", $srv->request(GET => $path, token => $token));
            is $status, 404, "GET $path answers 404";
            is_deeply $body, { detail => 'Not Found' }, "GET $path body";
        }
        my ($outside) = $srv->request(GET => '/nowhere', raw_path => 1);
        is $outside, 404, 'a path outside /api/v1 answers 404';

        for my $case ([PUT => '/', 'GET'], [DELETE => '/auth/token', 'POST'], [GET => '/auth/refresh', 'POST'],
                      [POST => '/journeys/0123456789abcdef01234567/markers/0123456789abcdef01234567', 'PUT']) {
            my ($method, $path, $allowed) = @$case;
            my ($status, $body, $headers) = $srv->request($method, $path, token => $token);
            record_error("$method $path", $status, $body);
            is $status, 405, "$method $path answers 405";
            like $headers->{allow} // '', qr/\b$allowed\b/, "$method $path: Allow names $allowed";
        }
    };

    subtest 'trailing slash is optional' => sub {
        for my $path ('/users/me', '/users/me/', "/users/$rider->{id}/journeys", "/users/$rider->{id}/journeys/") {
            my ($status) = $srv->request(GET => $path, token => $token);
            is $status, 200, "GET $path answers 200";
        }
        my ($status) = $srv->request(POST => '/auth/token/', form => [username => $rider->{email}, password => $rider->{password}]);
        is $status, 200, 'POST /auth/token/ answers 200';
    };

    subtest 'bodies that are not a JSON object' => sub {
        for my $case (['invalid JSON', '{"name": '], ['a JSON array', '[{"name":"x"}]'], ['a JSON string', '"name"'],
                      ['an empty body', ''], ['trailing garbage', '{"name":"x"} x'],
                      ['invalid UTF-8', qq({"name":"\xff\xfe"})]) {
            my ($what, $raw) = @$case;
            my ($status, $body) = record_error($what, $srv->request(POST => '/journeys/', token => $token,
                body => $raw, type => 'application/json'));
            is $status, 422, "$what answers 422";
            is_deeply $body && ref $body->{detail} eq 'ARRAY' ? $body->{detail}[0]{loc} : undef, ['body'],
                "$what: loc is [body]";
        }
    };

    subtest 'nesting depth' => sub {
        my ($ok_status) = $srv->request(POST => '/journeys/', token => $token, body => nested_body(32),
            type => 'application/json');
        is $ok_status, 201, 'a body 32 levels deep is accepted';
        my ($status, $body) = record_error('33 levels', $srv->request(POST => '/journeys/', token => $token,
            body => nested_body(33), type => 'application/json'));
        is $status, 422, 'a body 33 levels deep answers 422';
        my ($deep_status) = record_error('10000 levels', $srv->request(POST => '/journeys/', token => $token,
            body => nested_body(10_000), type => 'application/json'));
        is $deep_status, 422, 'a body 10000 levels deep answers 422';
    };

    subtest 'body size' => sub {
        my $prefix = '{"name":"Big","description":"","extra":"';
        my $over = $prefix . ('x' x (1024 * 1024 + 1 - length($prefix) - 2)) . '"}';
        is length($over), 1024 * 1024 + 1, 'the test body is 1 MiB + 1 byte';
        my ($status, $body) = record_error('1 MiB + 1', $srv->request(POST => '/journeys/', token => $token,
            body => $over, type => 'application/json'));
        is $status, 413, 'a body over 1 MiB answers 413';

        my $limit = substr($over, 0, 1024 * 1024 - 2) . '"}';
        my ($limit_status) = $srv->request(POST => '/journeys/', token => $token, body => $limit, type => 'application/json');
        isnt $limit_status, 413, 'a body of exactly 1 MiB is not refused for its size';
        my ($after) = $srv->request(GET => '/users/me', token => $token);
        is $after, 200, 'the server answers after large bodies';

        # A browser must be able to read a 413 too, so it carries the CORS headers.
        my ($big_status, $big_body, $headers) = $srv->request(POST => '/journeys/', token => $token,
            body => $over, type => 'application/json', headers => { Origin => 'http://app.example' });
        is $big_status, 413, '1 MiB + 1 with an Origin answers 413';
        is $headers->{'access-control-allow-origin'}, '*', 'that 413 carries CORS headers';

        # h2o answers a larger Content-Length itself, before the body is read and
        # before routing: the headers alone get the answer.
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $srv->port, Timeout => 10)
            or die "connect: $!";
        print $sock "POST /api/v1/journeys/ HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://app.example\r\n"
            . "Content-Type: application/json\r\nContent-Length: " . (2 * 1024 * 1024) . "\r\n\r\n";
        local $/;
        my $answer = <$sock> // '';
        close $sock;
        like $answer, qr{\AHTTP/1\.1 413 }, 'a 2 MiB Content-Length answers 413 before the body';
        like $answer, qr{^Access-Control-Allow-Origin: \*\r$}mi, 'that 413 carries CORS headers too';
        like $answer, qr{\{"detail":"Request body is larger than 1 MiB"\}\z}, 'that 413 has the JSON body';

        # The log line of that early 413 redacts secret query values as the access log does.
        my $secret = 'refresh-secret-' . int(rand(1e9));
        my $leak = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $srv->port, Timeout => 10)
            or die "connect: $!";
        print $leak "POST /api/v1/auth/refresh?refresh_token=$secret HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            . "Content-Type: application/json\r\nContent-Length: " . (2 * 1024 * 1024) . "\r\n\r\n";
        my $leak_answer = <$leak> // '';
        close $leak;
        like $leak_answer, qr{\AHTTP/1\.1 413 }, 'a 2 MiB body with a secret in the query answers 413';
        ok $srv->wait_log(qr{/api/v1/auth/refresh\?refresh_token=REDACTED"? 413}, 5), 'its log line shows the query redacted';
        unlike $srv->log_text, qr{\Q$secret\E}, 'the log does not contain the secret query value';
    };

    subtest 'CORS with the default origins' => sub {
        my ($status, undef, $headers, $raw) = $srv->request(OPTIONS => '/journeys/', headers => {
            Origin                           => 'http://localhost:3000',
            'Access-Control-Request-Method'  => 'POST',
            'Access-Control-Request-Headers' => 'authorization, content-type',
        });
        is $status, 204, 'preflight answers 204';
        is $raw, '', 'preflight has no body';
        is $headers->{'access-control-allow-origin'}, '*', 'local allows any origin';
        like $headers->{'access-control-allow-methods'} // '', qr/\bPOST\b/, 'allowed methods include POST';
        like $headers->{'access-control-allow-headers'} // '', qr/\bauthorization\b/i, 'allowed headers include Authorization';
        like $headers->{'access-control-allow-headers'} // '', qr/\bcontent-type\b/i, 'allowed headers include Content-Type';
        ok !defined $headers->{'access-control-allow-credentials'}, 'no credentials with *';

        my ($get_status, undef, $get_headers) = $srv->request(GET => '/users/me', token => $token,
            headers => { Origin => 'http://localhost:3000' });
        is $get_status, 200, 'a cross-origin GET answers 200';
        is $get_headers->{'access-control-allow-origin'}, '*', 'a cross-origin GET carries Allow-Origin';
        my ($denied_status, undef, $denied_headers) = $srv->request(GET => '/users/me',
            headers => { Origin => 'http://localhost:3000' });
        is $denied_status, 401, 'a cross-origin GET without a token answers 401';
        is $denied_headers->{'access-control-allow-origin'}, '*', 'the 401 carries Allow-Origin, so the client can read it';
    };

    subtest 'every error body has a detail' => sub {
        ok scalar(@error_bodies), 'errors were recorded';
        for my $error (@error_bodies) {
            my ($what, $status, $body) = @$error;
            ok ref $body eq 'HASH' && defined $body->{detail}, "$what ($status) has a detail";
        }
        @error_bodies = ();
    };
});

subtest 'CORS with a list of origins' => sub {
    my $srv = start_server(env => { CORS_ORIGINS => 'https://app.example.com,http://localhost:3000' });
    my %preflight = ('Access-Control-Request-Method' => 'PATCH', 'Access-Control-Request-Headers' => 'authorization');

    my ($status, undef, $headers) = $srv->request(OPTIONS => '/journeys/0123456789abcdef01234567/active',
        headers => { Origin => 'https://app.example.com', %preflight });
    is $status, 204, 'preflight from a listed origin answers 204';
    is $headers->{'access-control-allow-origin'}, 'https://app.example.com', 'the listed origin is echoed';
    is $headers->{'access-control-allow-credentials'}, 'true', 'credentials are allowed for a listed origin';
    like $headers->{'access-control-allow-methods'} // '', qr/\bPATCH\b/, 'allowed methods include PATCH';
    like $headers->{vary} // '', qr/\bOrigin\b/i, 'the answer varies by Origin';

    my (undef, undef, $other) = $srv->request(OPTIONS => '/journeys/',
        headers => { Origin => 'https://evil.example.net', %preflight });
    ok !defined $other->{'access-control-allow-origin'}, 'an unlisted origin gets no Allow-Origin';

    is $srv->stop, 0, 'server exits 0 on SIGTERM';
};

done_testing;
