# The OpenAPI document: served as it is in docs/openapi.json, real responses
# conform to the schema it documents for their status, it passes
# `redocly lint`, and the documentation routes send the right headers.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Cwd qw(abs_path);
use JSON::PP;
use Test::More;
use KairosTest qw(for_each_backend json_decode unique_email);
use OpenAPISchema;

my $root = abs_path("$FindBin::Bin/../..");
my $document_path = "$root/docs/openapi.json";

open my $fh, '<:raw', $document_path or BAIL_OUT("cannot open $document_path: $!");
my $document_text = do { local $/; <$fh> };
close $fh;
my $document = json_decode($document_text);
BAIL_OUT("$document_path is not valid JSON") unless ref $document eq 'HASH';
my $api = OpenAPISchema->new($document);

# Checks that a response has the expected status and conforms to the document.
sub conforms {
    my ($method, $template, $expected, $response, $name) = @_;
    my ($status, $body, $headers, $raw) = @$response;
    my $ok = is $status, $expected, "$name answers $expected";
    my @errors = $api->validate_response($method, $template, $status, $headers->{'content-type'}, $body, $raw);
    $ok = ok(!@errors, "$name conforms to the document") && $ok;
    diag join "\n", @errors if @errors;
    diag "body: $raw" unless $ok;
    return $ok;
}

subtest 'validator' => sub {
    my %user = (_id => 'a' x 24, email => 'a@b.example', name => 'A', phonenumber => undef, instagram => undef,
        country => undef, is_verified => JSON::PP::false);
    ok !$api->validate($api->schema('User'), \%user), 'accepts a user';
    ok scalar($api->validate($api->schema('PublicUser'), \%user)), 'public profile rejects an email';
    ok scalar($api->validate($api->schema('User'), { %user, password => 'x' })), 'user rejects a password field';
    my %without_email = %user;
    delete $without_email{email};
    ok scalar($api->validate($api->schema('User'), \%without_email)), 'user requires an email';
    ok scalar($api->validate($api->schema('User'), { %user, is_verified => 'false' })),
        'user rejects a string as boolean';
    ok scalar($api->validate($api->schema('User'), { %user, _id => 'A' x 24 })), 'user rejects an uppercase id';

    my $point = json_decode('{"type":"Point","coordinates":[-114.0,51.1]}');
    ok !$api->validate($api->schema('Point'), $point), 'accepts a point';
    ok scalar($api->validate($api->schema('Point'), json_decode('{"type":"Point","coordinates":[1]}'))),
        'point rejects one coordinate';
    ok scalar($api->validate($api->schema('Point'), json_decode('{"type":"Point","coordinates":["1","2"]}'))),
        'point rejects strings as numbers';
    ok scalar($api->validate($api->schema('Point'), json_decode('{"type":"Line","coordinates":[1,2]}'))),
        'point rejects another type';

    my $error = json_decode('{"detail":[{"loc":["body","name"],"msg":"name is required","type":"value_error"}]}');
    ok !$api->validate($api->schema('HTTPValidationError'), $error), 'accepts a validation error';
    ok scalar($api->validate($api->schema('HTTPValidationError'), json_decode('{"detail":"text"}'))),
        'validation error rejects a string detail';

    ok scalar($api->validate_response('GET', '/api/v1/users/me', 418, 'application/json', {}, '{}')),
        'response rejects an undocumented status';
    ok scalar($api->validate_response('GET', '/api/v1/users/me', 200, 'text/plain', \%user, 'x')),
        'response rejects an undocumented content type';
    ok scalar($api->validate_response('DELETE', '/api/v1/journeys/{journey_id}', 204, undef, undef, 'x')),
        'response rejects a body where none is documented';
};

subtest 'redocly lint' => sub {
    my $tools = "$root/build/node-tools";
    my $redocly = "$tools/node_modules/.bin/redocly";
    unless (-x $redocly && -e "$tools/.installed") {
        my $output = `sh '$root/etc/fetch-docs-assets.sh' test-tools '$tools' 2>&1`;
        plan skip_all => "redocly lint skipped: installing \@redocly/cli from npm failed: "
            . ((split /\n/, $output)[-1] // "exit status $?")
            if $? != 0 || !-x $redocly;
    }
    my $output = `'$redocly' lint --config '$root/docs/redocly.yaml' --format=stylish '$document_path' 2>&1`;
    is $?, 0, 'docs/openapi.json passes redocly lint' or diag $output;
};

for_each_backend(sub {
    my ($srv) = @_;

    subtest 'document' => sub {
        my ($status, $body, $headers, $raw) = $srv->request(GET => '/openapi.json');
        is $status, 200, 'GET /api/v1/openapi.json answers 200';
        like $headers->{'content-type'} // '', qr{\Aapplication/json\b}, 'document is JSON';
        is $headers->{'cache-control'}, 'no-cache', 'document is revalidated on every use';
        ok $raw eq $document_text, 'document is docs/openapi.json byte for byte';
    };

    subtest 'documentation routes' => sub {
        for my $page (['/docs', qr/\bworker-src\b/, 0], ['/redoc', qr/\bworker-src blob:/, 1]) {
            my ($path, $worker, $needs_worker) = @$page;
            my ($status, undef, $headers) = $srv->request(GET => $path, raw_path => 1);
            is $status, 200, "GET $path answers 200";
            is $headers->{'content-type'}, 'text/html; charset=utf-8', "$path is UTF-8 HTML";
            is $headers->{'cache-control'}, 'no-cache', "$path is revalidated on every use";
            my $policy = $headers->{'content-security-policy'} // '';
            like $policy, qr/\bdefault-src 'none'/, "$path allows nothing by default";
            like $policy, qr/\bscript-src 'self';/, "$path runs scripts only from Kairos";
            like $policy, qr/\bconnect-src 'self';/, "$path connects only to Kairos";
            if ($needs_worker) {
                like $policy, $worker, "$path allows blob: workers";
            } else {
                unlike $policy, $worker, "$path allows no workers";
            }
        }

        my %assets = (
            'swagger-ui-bundle.js' => qr{\Aapplication/javascript},
            'swagger-init.js'      => qr{\Aapplication/javascript},
            'swagger-ui.css'       => qr{\Atext/css},
            'redoc.standalone.js'  => qr{\Aapplication/javascript},
            'favicon-32x32.png'    => qr{\Aimage/png\z},
        );
        for my $name (sort keys %assets) {
            my ($status, undef, $headers, $raw) = $srv->request(GET => "/docs/static/$name", raw_path => 1);
            is $status, 200, "asset $name answers 200";
            like $headers->{'content-type'} // '', $assets{$name}, "asset $name has its content type";
            is $headers->{'cache-control'}, 'public, max-age=86400', "asset $name may be cached for a day";
            is $headers->{'x-content-type-options'}, 'nosniff', "asset $name forbids sniffing";
            ok length($raw) > 0, "asset $name has a body";
        }

        my ($status, $body) = $srv->request(GET => '/docs/static/swagger-ui.js.map', raw_path => 1);
        is $status, 404, 'unknown asset answers 404';
        is $body && $body->{detail}, 'Not Found', 'unknown asset answers a detail';
        ($status) = $srv->request(GET => '/docs/static/..%2fopenapi.json', raw_path => 1);
        is $status, 404, 'encoded slash in an asset name answers 404';
        ($status, undef, undef, my $raw) = $srv->request(HEAD => '/docs/static/swagger-ui.css', raw_path => 1);
        is $status, 200, 'HEAD of an asset answers 200';
        is $raw, '', 'HEAD of an asset has no body';
    };

    subtest 'responses conform to the document' => sub {
        conforms(GET => '/api/v1/', 200, [$srv->request(GET => '/')], 'ping');
        conforms(GET => '/api/v1/mongodb', 200, [$srv->request(GET => '/mongodb')], 'storage ping');
        conforms(GET => '/api/v1/health', 200, [$srv->request(GET => '/health')], 'health');

        my $email = unique_email('openapi');
        my $password = 'correct-horse-battery';
        my $register = [$srv->register(email => $email, name => 'Ana', password => $password, country => 'CA')];
        conforms(POST => '/api/v1/users/register', 201, $register, 'register');
        my $user = $register->[1];
        conforms(POST => '/api/v1/users/register', 400,
            [$srv->register(email => $email, name => 'Ana', password => $password)], 'register twice');
        conforms(POST => '/api/v1/users/register', 422,
            [$srv->register(email => 'not-an-email', name => 'Ana', password => $password)], 'register a bad email');

        my $login = [$srv->login($email, $password)];
        conforms(POST => '/api/v1/auth/token', 200, $login, 'login');
        my $access = $login->[1]{access_token};
        conforms(POST => '/api/v1/auth/token', 400, [$srv->login($email, 'wrong-password')], 'login wrong password');
        conforms(POST => '/api/v1/auth/token', 422,
            [$srv->request(POST => '/auth/token', form => [username => $email])], 'login without password');
        conforms(POST => '/api/v1/auth/refresh', 200,
            [$srv->request(POST => '/auth/refresh', form => [refresh_token => $login->[1]{refresh_token}])], 'refresh');
        conforms(POST => '/api/v1/auth/refresh', 401,
            [$srv->request(POST => '/auth/refresh', json => { refresh_token => 'not-a-token' })], 'refresh bad token');

        conforms(GET => '/api/v1/users/me', 200, [$srv->request(GET => '/users/me', token => $access)], 'current user');
        my $anonymous = [$srv->request(GET => '/users/me')];
        conforms(GET => '/api/v1/users/me', 401, $anonymous, 'current user without token');
        is $anonymous->[2]{'www-authenticate'}, 'Bearer', '401 carries WWW-Authenticate: Bearer';

        my $other = $srv->new_rider(name => 'Bo');
        my $profile = [$srv->request(GET => "/users/$other->{id}", token => $access)];
        conforms(GET => '/api/v1/users/{user_id}', 200, $profile, 'other user');
        ok !exists $profile->[1]{email}, 'other user has no email';
        conforms(GET => '/api/v1/users/{user_id}', 404,
            [$srv->request(GET => '/users/' . ('0' x 24), token => $access)], 'unknown user');
        conforms(PUT => '/api/v1/users/{user_id}', 200,
            [$srv->request(PUT => "/users/$user->{_id}", token => $access, json => { %$user, name => 'Ana B' })],
            'update user');
        conforms(PUT => '/api/v1/users/{user_id}', 403,
            [$srv->request(PUT => "/users/$other->{id}", token => $access, json => { name => 'X' })],
            'update another user');

        my $create = [$srv->request(POST => '/journeys/', token => $access, json => { name => 'Divide' })];
        conforms(POST => '/api/v1/journeys/', 201, $create, 'create journey');
        my $journey_id = $create->[1]{_id};
        conforms(POST => '/api/v1/journeys/', 422,
            [$srv->request(POST => '/journeys/', token => $access, json => { description => 'no name' })],
            'create journey without name');
        conforms(GET => '/api/v1/journeys/{journey_id}', 200,
            [$srv->request(GET => "/journeys/$journey_id", token => $access)], 'get journey');
        conforms(GET => '/api/v1/journeys/{journey_id}', 404,
            [$srv->request(GET => '/journeys/' . ('f' x 24), token => $access)], 'unknown journey');
        conforms(GET => '/api/v1/journeys/{journey_id}', 422,
            [$srv->request(GET => '/journeys/not-an-id', token => $access)], 'malformed journey id');

        my %marker = (name => 'Camp', marker_type => 'past', timestamp => '2026-06-12',
            coordinates => { type => 'Point', coordinates => [-114.0, 51.1] });
        my $add = [$srv->request(POST => "/journeys/$journey_id/markers", token => $access, json => \%marker)];
        conforms(POST => '/api/v1/journeys/{journey_id}/markers', 201, $add, 'add marker');
        my $marker_id = $add->[1]{_id};
        my $planned = { %marker, marker_type => 'plan', timestamp => undef, estimated_time => '2026-07-01',
            coordinates => { type => 'Point', coordinates => [-114.1, 51.2, 1300.5] } };
        conforms(POST => '/api/v1/journeys/{journey_id}/markers', 201,
            [$srv->request(POST => "/journeys/$journey_id/markers", token => $access, json => $planned)],
            'add planned marker with altitude');
        conforms(POST => '/api/v1/journeys/{journey_id}/markers', 422,
            [$srv->request(POST => "/journeys/$journey_id/markers", token => $access,
                json => { %marker, coordinates => { type => 'Point', coordinates => [200, 0] } })],
            'add marker out of range');
        conforms(POST => '/api/v1/journeys/{journey_id}/markers', 403,
            [$srv->request(POST => "/journeys/$journey_id/markers", token => $other->{access}, json => \%marker)],
            'add marker to another user\'s journey');
        conforms(PUT => '/api/v1/journeys/{journey_id}/markers/{marker_id}', 200,
            [$srv->request(PUT => "/journeys/$journey_id/markers/$marker_id", token => $access,
                json => { %marker, notes => 'river' })], 'update marker');
        conforms(PUT => '/api/v1/journeys/{journey_id}/markers/{marker_id}', 404,
            [$srv->request(PUT => "/journeys/$journey_id/markers/" . ('e' x 24), token => $access, json => \%marker)],
            'update unknown marker');
        conforms(GET => '/api/v1/journeys/{journey_id}/markers', 200,
            [$srv->request(GET => "/journeys/$journey_id/markers", token => $access)], 'list markers');

        my $near = $srv->create_journey($other, name => 'Nearby');
        $srv->add_marker($other, $near->{_id}, -114.01, 51.11);
        my $ids = [$srv->request(GET => "/journeys/$journey_id/journeys/nearby", token => $access)];
        conforms(GET => '/api/v1/journeys/{journey_id}/journeys/nearby', 200, $ids, 'nearby journey ids');
        is_deeply $ids->[1], [$near->{_id}], 'nearby journey ids name the nearby journey';
        my $details = [$srv->request(GET => "/journeys/$journey_id/nearby", token => $access)];
        conforms(GET => '/api/v1/journeys/{journey_id}/nearby', 200, $details, 'nearby journeys');
        is scalar(@{ $details->[1] // [] }), 1, 'nearby journeys list the nearby journey';
        conforms(GET => '/api/v1/journeys/{journey_id}/nearby', 422,
            [$srv->request(GET => "/journeys/$journey_id/nearby?max_distance=-1", token => $access)],
            'nearby journeys with a negative distance');

        conforms(PATCH => '/api/v1/journeys/{journey_id}/active', 204,
            [$srv->request(PATCH => "/journeys/$journey_id/active", token => $access)], 'toggle active');
        conforms(GET => '/api/v1/users/{user_id}/journeys/active', 200,
            [$srv->request(GET => "/users/$user->{_id}/journeys/active", token => $access)], 'active journey');
        conforms(GET => '/api/v1/users/{user_id}/journeys/active', 404,
            [$srv->request(GET => "/users/$other->{id}/journeys/active", token => $access)], 'no active journey');
        conforms(GET => '/api/v1/users/{user_id}/journeys', 200,
            [$srv->request(GET => "/users/$user->{_id}/journeys", token => $access)], 'user journeys');
        conforms(PATCH => '/api/v1/journeys/{journey_id}', 204,
            [$srv->request(PATCH => "/journeys/$journey_id", token => $access)], 'complete journey');
        conforms(PATCH => '/api/v1/journeys/{journey_id}/active', 409,
            [$srv->request(PATCH => "/journeys/$journey_id/active", token => $access)], 'activate completed journey');
        conforms(DELETE => '/api/v1/journeys/{journey_id}/markers/{marker_id}', 204,
            [$srv->request(DELETE => "/journeys/$journey_id/markers/$marker_id", token => $access)], 'delete marker');
        conforms(DELETE => '/api/v1/journeys/{journey_id}', 403,
            [$srv->request(DELETE => "/journeys/$journey_id", token => $other->{access})],
            'delete another user\'s journey');
        conforms(DELETE => '/api/v1/journeys/{journey_id}', 204,
            [$srv->request(DELETE => "/journeys/$journey_id", token => $access)], 'delete journey');

        conforms(POST => '/api/v1/users/reset-password', 202,
            [$srv->request(POST => '/users/reset-password', json => { email => $email })], 'reset password');
        conforms(POST => '/api/v1/users/update-password', 400,
            [$srv->request(POST => '/users/update-password', json => { token => 'x', new_password => 'long-enough-1' })],
            'update password with a bad token');
        conforms(GET => '/api/v1/users/verify-email', 400,
            [$srv->request(GET => '/users/verify-email?token=x')], 'verify email with a bad token');
        conforms(DELETE => '/api/v1/users/{user_id}', 200,
            [$srv->request(DELETE => "/users/$user->{_id}", token => $access)], 'delete user');
    };
});

done_testing;
