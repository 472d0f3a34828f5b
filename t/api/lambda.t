# `kairos lambda` against a fake Lambda Runtime API (t/lib/FakeRuntime.pm):
# API Gateway HTTP API (payload 2.0), REST API (payload 1.0) and ALB events go
# through the real handlers on a fresh SpatiaLite file, and each response must
# come back in the format of its event. Malformed events must reach the
# invocation error endpoint, and a bad configuration the init error endpoint.
# Prints the cold start: from exec to the first response posted.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);

use lib dirname(__FILE__) . '/../lib';
use FakeRuntime;

my $BIN = $ENV{KAIROS_BIN} or plan skip_all => 'KAIROS_BIN is not set (make test sets it)';
my $JSON = JSON::PP->new->utf8->canonical;

# ---- events, shaped as AWS sends them ----

sub v2_event {
    my (%o) = @_;
    my $body = $o{body};
    my %event = (
        version         => '2.0',
        routeKey        => '$default',
        rawPath         => $o{path},
        rawQueryString  => $o{query} // '',
        headers         => { 'user-agent' => 'lambda.t', host => 'abc123.execute-api.eu-west-2.amazonaws.com', %{ $o{headers} // {} } },
        requestContext  => {
            accountId => '000000000000',
            apiId     => 'abc123',
            http      => { method => $o{method}, path => $o{path}, protocol => 'HTTP/1.1', sourceIp => '203.0.113.10' },
            requestId => 'JKJaXmPLvHcESHA=',
            stage     => '$default',
        },
        isBase64Encoded => $o{base64} ? JSON::PP::true : JSON::PP::false,
    );
    $event{cookies} = $o{cookies} if $o{cookies};
    $event{body} = $o{base64} ? encode_base64($body, '') : $body if defined $body;
    return $JSON->encode(\%event);
}

sub v1_event {
    my (%o) = @_;
    my %event = (
        resource       => '/{proxy+}',
        path           => $o{path},
        httpMethod     => $o{method},
        requestContext => { identity => { sourceIp => '198.51.100.20' }, stage => 'prod' },
        body           => $o{body},
        isBase64Encoded => JSON::PP::false,
        queryStringParameters => undef,
        multiValueQueryStringParameters => undef,
    );
    if (my $query = $o{query}) {
        my %multi;
        for (my $i = 0; $i < @$query; $i += 2) {
            push @{ $multi{ $query->[$i] } }, $query->[ $i + 1 ];
        }
        $event{multiValueQueryStringParameters} = \%multi;
        $event{queryStringParameters} = { map { $_ => $multi{$_}[-1] } keys %multi };
    }
    my $headers = $o{headers} // {};
    $event{headers} = { map { $_ => $headers->{$_}[-1] } keys %$headers };
    $event{multiValueHeaders} = $headers if $o{multi_value};
    return $JSON->encode(\%event);
}

sub alb_event {
    my (%o) = @_;
    my %headers = ('x-forwarded-for' => '192.0.2.30', 'user-agent' => 'lambda.t', %{ $o{headers} // {} });
    my %event = (
        requestContext => { elb => { targetGroupArn => 'arn:aws:elasticloadbalancing:eu-west-2:000000000000:targetgroup/kairos/1' } },
        httpMethod      => $o{method},
        path            => $o{path},
        body            => '',
        isBase64Encoded => JSON::PP::false,
    );
    if ($o{multi_value}) {
        $event{multiValueHeaders} = { map { $_ => [ $headers{$_} ] } keys %headers };
        $event{multiValueQueryStringParameters} = {};
    } else {
        $event{headers} = \%headers;
        $event{queryStringParameters} = {};
    }
    return $JSON->encode(\%event);
}

# ---- running kairos lambda ----

sub start_lambda {
    my ($rt, %env) = @_;
    my $dir = tempdir('kairos-lambda-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{KAIROS_TEST_KEEP});
    mkdir "$dir/var";
    my %vars = (
        AWS_LAMBDA_RUNTIME_API => $rt->address,
        ENVIRONMENT            => 'local',
        KAIROS_STORAGE         => "$dir/kairos.sqlite",
        KAIROS_VAR_DIR         => "$dir/var",
        SECRET_KEY             => 'lambda-test-secret-' . ('k' x 32),
        FRONTEND_URL           => 'http://localhost:3000',
        %env,
    );
    my $started = time;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        for my $name (keys %ENV) {
            delete $ENV{$name}
              if $name =~ /\A(?:KAIROS_|MONGO_|RESEND_|CORS_|MAIL_|FRONTEND_URL|ENVIRONMENT|SECRET_KEY|AWS_)/
              || $name =~ /_TOKEN_EXPIRE_MINUTES\z/;
        }
        defined $vars{$_} ? ($ENV{$_} = $vars{$_}) : delete $ENV{$_} for keys %vars;
        chdir $dir or die "chdir $dir: $!";    # so that no .env of the tree is read
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$dir/lambda.log" or die "open log: $!";
        open STDERR, '>&', \*STDOUT;
        exec $BIN, 'lambda' or die "exec $BIN: $!";
    }
    return { pid => $pid, dir => $dir, log => "$dir/lambda.log", started => $started };
}

sub log_text {
    my ($fn) = @_;
    open my $fh, '<', $fn->{log} or return '';
    local $/;
    return scalar <$fh>;
}

sub stop_lambda {
    my ($fn) = @_;
    kill 'TERM', $fn->{pid};
    waitpid $fn->{pid}, 0;
}

# Waits for the process to exit while serving the runtime; returns its exit code or undef.
sub wait_exit {
    my ($rt, $fn, $timeout) = @_;
    my $code;
    $rt->wait_for(sub {
        my $got = waitpid $fn->{pid}, WNOHANG;
        $code = $? >> 8 if $got == $fn->{pid};
        return defined $code;
    }, $timeout);
    return $code;
}

# Queues an event and returns the decoded response document, or undef after 15 s.
sub invoke {
    my ($rt, $event) = @_;
    my $id = $rt->enqueue($event);
    $rt->wait_for(sub { $rt->response($id) || $rt->error($id) }, 15) or return undef;
    my $posted = $rt->response($id) or return undef;
    return eval { $JSON->decode($posted->{body}) };
}

# The body of a response document, decoded; it is already a character string.
sub body_of {
    my ($doc) = @_;
    return eval { JSON::PP->new->decode($doc->{body}) } // {};
}

# ---- the tests ----

my $rt = FakeRuntime->new;
my $ping_id = $rt->enqueue(v2_event(method => 'GET', path => '/api/v1/', cookies => [ 'theme=dark', 'seen=1' ]));
my $fn = start_lambda($rt);

subtest 'cold start' => sub {
    ok $rt->wait_for(sub { $rt->response($ping_id) }, 20), 'first invocation answered'
      or diag log_text($fn);
    my $doc = eval { $JSON->decode($rt->response($ping_id)->{body}) } // {};
    my $ms = ($rt->response($ping_id)->{time} - $fn->{started}) * 1000;
    note sprintf 'cold start: %.1f ms from exec to the first response posted (SpatiaLite, new file)', $ms;
    is $doc->{statusCode}, 200, 'GET /api/v1/ with cookies answers 200';
    is $doc->{body}, '"pong"', 'body is the JSON string pong';
    is $doc->{headers}{'content-type'}, 'application/json', 'content-type header';
    ok !exists $doc->{cookies}, 'no cookies field without set-cookie';
    ok !exists $doc->{statusDescription}, 'no statusDescription for API Gateway';
    my @gets = grep { m{/invocation/next} } $rt->requests;
    ok scalar(@gets) >= 1, 'asked for the next invocation';
};

my $email = "lambda-$$\@example.com";
my $password = 'correct horse battery';
my ($access, $refresh, $verify_token);

subtest 'register with a JSON body' => sub {
    my $doc = invoke($rt, v2_event(
        method  => 'POST',
        path    => '/api/v1/users/register',
        headers => { 'content-type' => 'application/json' },
        body    => $JSON->encode({ email => $email, name => 'Lambda Rider', password => $password }),
    ));
    is $doc->{statusCode}, 201, 'register answers 201';
    my $user = body_of($doc) // {};
    is $user->{email}, $email, 'user email answered';
    like $user->{_id} // '', qr/\A[0-9a-f]{24}\z/, 'user id is 24 hex';
    ok !exists $user->{password}, 'no password in the user';
    ok !$doc->{isBase64Encoded}, 'JSON answer is not base64';

    # The verification mail goes out inline after the response (log transport here).
    $rt->wait_for(sub { log_text($fn) =~ m{/verify(?:-email)?\?token=([\w-]+\.[\w-]+\.[\w-]+)} and $verify_token = $1 }, 5);
    ok $verify_token, 'verification mail sent inline after the response' or diag log_text($fn);
};

subtest 'login with a base64 form body' => sub {
    my $form = 'grant_type=password&username=' . ($email =~ s/@/%40/r) . '&password=' . ($password =~ s/ /+/gr);
    my $doc = invoke($rt, v2_event(
        method  => 'POST',
        path    => '/api/v1/auth/token',
        headers => { 'content-type' => 'application/x-www-form-urlencoded' },
        body    => $form,
        base64  => 1,
    ));
    is $doc->{statusCode}, 200, 'login answers 200';
    my $tokens = body_of($doc) // {};
    is $tokens->{token_type}, 'bearer', 'token type bearer';
    ok $access = $tokens->{access_token}, 'access token answered';
    ok $refresh = $tokens->{refresh_token}, 'refresh token answered';

    my $wrong = invoke($rt, v2_event(
        method  => 'POST',
        path    => '/api/v1/auth/token',
        headers => { 'content-type' => 'application/x-www-form-urlencoded' },
        body    => 'username=' . ($email =~ s/@/%40/r) . '&password=wrong-password',
        base64  => 1,
    ));
    is $wrong->{statusCode}, 400, 'wrong password answers 400';
};

subtest 'REST API event with multiValueHeaders' => sub {
    my $doc = invoke($rt, v1_event(
        method      => 'GET',
        path        => '/api/v1/users/me',
        headers     => { Authorization => ["Bearer $access"], Accept => [ 'application/json', 'text/plain' ] },
        multi_value => 1,
    ));
    is $doc->{statusCode}, 200, 'GET /users/me answers 200';
    is body_of($doc)->{email}, $email, 'the caller is the registered user';
    is_deeply $doc->{multiValueHeaders}{'content-type'}, ['application/json'], 'answered with multiValueHeaders';
    ok !exists $doc->{headers}, 'no single-value headers';

    my $single = invoke($rt, v1_event(method => 'GET', path => '/api/v1/users/me', headers => { Authorization => ["Bearer $access"] }));
    is $single->{statusCode}, 200, 'single-value headers work too';
    is $single->{headers}{'content-type'}, 'application/json', 'answered with headers';
};

subtest 'REST API event with query parameters' => sub {
    my $doc = invoke($rt, v1_event(
        method => 'GET',
        path   => '/api/v1/users/verify-email',
        query  => [ token => $verify_token ],
    ));
    is $doc->{statusCode}, 200, 'verify-email answers 200';
    is body_of($doc)->{message}, 'Email verified successfully.', 'email verified';

    # Repeated keys and values that API Gateway has decoded must be encoded again.
    my $rotated = invoke($rt, v1_event(
        method => 'POST',
        path   => '/api/v1/auth/refresh',
        query  => [ note => 'a b&c=d', refresh_token => $refresh, note => 'é' ],
    ));
    is $rotated->{statusCode}, 200, 'refresh with the token in a query of repeated keys answers 200';
    my $tokens = body_of($rotated) // {};
    ok $tokens->{refresh_token} && $tokens->{refresh_token} ne $refresh, 'a new refresh token';
    $access = $tokens->{access_token} // $access;
};

subtest 'HTTP API event with a query of repeated keys' => sub {
    my $doc = invoke($rt, v2_event(
        method => 'GET',
        path   => '/api/v1/users/verify-email',
        query  => 'x=1&token=not-a-token&x=2',
    ));
    is $doc->{statusCode}, 400, 'an invalid token in the raw query answers 400';
};

subtest 'base64 JSON body' => sub {
    my $name = "Route des Grandes Alpes \x{e9}t\x{e9}";
    my $doc = invoke($rt, v2_event(
        method  => 'POST',
        path    => '/api/v1/journeys/',
        headers => { 'content-type' => 'application/json', authorization => "Bearer $access" },
        body    => $JSON->encode({ name => $name, description => 'col du Galibier' }),
        base64  => 1,
    ));
    is $doc->{statusCode}, 201, 'create journey answers 201';
    is body_of($doc)->{name}, $name, 'UTF-8 name decoded from base64 intact';
};

subtest 'ALB events' => sub {
    my $doc = invoke($rt, alb_event(method => 'GET', path => '/api/v1/health'));
    is $doc->{statusCode}, 200, 'health answers 200';
    is $doc->{statusDescription}, '200 OK', 'statusDescription 200 OK';
    is $doc->{headers}{'content-type'}, 'application/json', 'single-value headers';
    is body_of($doc)->{storage}, 'spatialite', 'health names the storage';

    my $missing = invoke($rt, alb_event(method => 'GET', path => '/api/v1/no-such-route', multi_value => 1));
    is $missing->{statusCode}, 404, 'unknown path answers 404';
    is $missing->{statusDescription}, '404 Not Found', 'statusDescription 404 Not Found';
    is_deeply $missing->{multiValueHeaders}{'content-type'}, ['application/json'], 'multi-value headers';
    ok !exists $missing->{headers}, 'no single-value headers';
};

subtest 'body over 1 MiB' => sub {
    my $doc = invoke($rt, v2_event(
        method  => 'POST',
        path    => '/api/v1/users/register',
        headers => { 'content-type' => 'application/json' },
        body    => '{"name":"' . ('x' x (1024 * 1024)) . '"}',
    ));
    is $doc->{statusCode}, 413, 'answers 413';
    like body_of($doc)->{detail} // '', qr/\S/, 'with a detail';
};

subtest 'scheduled outbox drain' => sub {
    my $doc = invoke($rt, '{"kairos":"drain-outbox"}');
    ok $doc, 'drain answered' or return;
    is $doc->{sent}, 0, 'nothing left to send: the verification mail went inline';
    is $doc->{failed}, 0, 'nothing failed';
};

subtest 'malformed events' => sub {
    for my $case (
        [ 'not JSON'             => 'this is not json' ],
        [ 'no known shape'       => '{"hello":"world"}' ],
        [ 'payload 2.0, no method' => '{"version":"2.0","rawPath":"/api/v1/","requestContext":{"http":{}}}' ],
    ) {
        my ($name, $event) = @$case;
        my $id = $rt->enqueue($event);
        $rt->wait_for(sub { $rt->response($id) || $rt->error($id) }, 15);
        my $error = $rt->error($id);
        ok $error, "$name: reaches the invocation error endpoint" or next;
        ok !$rt->response($id), "$name: no response posted";
        is $error->{type}, 'Kairos.InvalidEvent', "$name: error type header";
        my $doc = eval { $JSON->decode($error->{body}) } // {};
        is $doc->{errorType}, 'Kairos.InvalidEvent', "$name: errorType";
        like $doc->{errorMessage} // '', qr/event/, "$name: errorMessage";
    }
    my $doc = invoke($rt, v2_event(method => 'GET', path => '/api/v1/'));
    is $doc->{statusCode}, 200, 'the next event is served normally';
};

subtest 'logs are JSON lines with the request id' => sub {
    my @lines = grep { length } split /\n/, log_text($fn);
    ok @lines > 0, 'something was logged';
    my @bad = grep { !eval { $JSON->decode($_); 1 } } @lines;
    is scalar(@bad), 0, 'every line is JSON' or diag "not JSON: $bad[0]";
    my $wanted = $ping_id =~ s/-//gr;
    ok((grep { /\Q$wanted\E/ } @lines), 'a line carries the Lambda request id');
    unlike log_text($fn), qr/\Q$password\E/, 'the password is never logged';
};

stop_lambda($fn);

subtest 'SpatiaLite outside local is an init error' => sub {
    my $rt2 = FakeRuntime->new;
    my $fn2 = start_lambda($rt2, ENVIRONMENT => 'production', RESEND_API_KEY => 're_test', MAIL_FROM => 'Kairos <kairos@example.com>');
    my $code = wait_exit($rt2, $fn2, 15);
    my $error = $rt2->init_error;
    ok $error, 'init error posted' or diag log_text($fn2);
    is $error && $error->{type}, 'Kairos.InitError', 'error type header';
    my $doc = eval { $JSON->decode($error->{body}) } // {};
    like $doc->{errorMessage} // '', qr/KAIROS_STORAGE/, 'message names KAIROS_STORAGE';
    is $code, 1, 'exits with 1';
    ok !(grep { m{/invocation/next} } $rt2->requests), 'never asked for an invocation';
    kill 'KILL', $fn2->{pid} unless defined $code;
};

subtest 'production without SECRET_KEY is an init error' => sub {
    my $rt3 = FakeRuntime->new;
    my $fn3 = start_lambda($rt3, ENVIRONMENT => 'production', SECRET_KEY => undef, KAIROS_STORAGE => 'mongodb://127.0.0.1:1/kairos');
    my $code = wait_exit($rt3, $fn3, 15);
    my $doc = eval { $JSON->decode($rt3->init_error->{body}) } // {};
    like $doc->{errorMessage} // '', qr/SECRET_KEY/, 'init error names SECRET_KEY' or diag log_text($fn3);
    is $code, 1, 'exits with 1';
    kill 'KILL', $fn3->{pid} unless defined $code;
};

subtest 'storage that cannot open is an init error' => sub {
    my $rt4 = FakeRuntime->new;
    my $fn4 = start_lambda($rt4, KAIROS_STORAGE => '/nonexistent-kairos-dir/sub/kairos.sqlite');
    my $code = wait_exit($rt4, $fn4, 15);
    ok $rt4->init_error, 'init error posted' or diag log_text($fn4);
    is $code, 1, 'exits with 1';
    kill 'KILL', $fn4->{pid} unless defined $code;
};

done_testing;
