# Health routes and the documentation routes the web client's generator reads.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Test::More;
use KairosTest qw(for_each_backend free_port start_server);

# Operation names of the API, route by route; each operationId is built from
# them as FastAPI builds it.
my @operations = (
    [GET    => '/api/v1/'                                           => 'ping'],
    [GET    => '/api/v1/mongodb'                                    => 'ping_mongodb'],
    [POST   => '/api/v1/auth/token'                                 => 'login'],
    [POST   => '/api/v1/auth/refresh'                               => 'refresh'],
    [POST   => '/api/v1/users/register'                             => 'register_user'],
    [GET    => '/api/v1/users/verify-email'                         => 'verify_email'],
    [POST   => '/api/v1/users/reset-password'                       => 'reset_password'],
    [POST   => '/api/v1/users/update-password'                      => 'update_password'],
    [GET    => '/api/v1/users/me'                                   => 'get_current_user'],
    [GET    => '/api/v1/users/{user_id}'                            => 'get_user_by_id'],
    [GET    => '/api/v1/users/{user_id}/journeys'                   => 'get_user_journeys'],
    [GET    => '/api/v1/users/{user_id}/journeys/active'            => 'get_active_journey'],
    [PUT    => '/api/v1/users/{user_id}'                            => 'update_user'],
    [DELETE => '/api/v1/users/{user_id}'                            => 'delete_user'],
    [POST   => '/api/v1/journeys/'                                  => 'create_journey'],
    [GET    => '/api/v1/journeys/{journey_id}'                      => 'get_journey'],
    [DELETE => '/api/v1/journeys/{journey_id}'                      => 'delete_journey'],
    [PATCH  => '/api/v1/journeys/{journey_id}/active'               => 'toggle_active_journey'],
    [PATCH  => '/api/v1/journeys/{journey_id}'                      => 'set_completed_journey'],
    [GET    => '/api/v1/journeys/{journey_id}/markers'              => 'get_journey_markers'],
    [POST   => '/api/v1/journeys/{journey_id}/markers'              => 'add_marker_to_journey'],
    [PUT    => '/api/v1/journeys/{journey_id}/markers/{marker_id}'  => 'update_journey_marker'],
    [DELETE => '/api/v1/journeys/{journey_id}/markers/{marker_id}'  => 'delete_journey_marker'],
    [GET    => '/api/v1/journeys/{journey_id}/journeys/nearby'      => 'get_nearby_journeys'],
);

sub operation_id {
    my ($method, $path, $name) = @_;
    (my $id = $name . $path) =~ s/[^A-Za-z0-9_]/_/g;
    return $id . '_' . lc $method;
}

is operation_id(POST => '/api/v1/journeys/', 'create_journey'), 'create_journey_api_v1_journeys__post',
    'operationId rule keeps the trailing slash';

for_each_backend(sub {
    my ($srv) = @_;

    subtest 'ping' => sub {
        for my $path ('/', '') {
            my ($status, $body, $headers, $raw) = $srv->request(GET => $path);
            is $status, 200, "GET /api/v1$path answers 200";
            is $raw, '"pong"', "GET /api/v1$path answers the JSON string pong";
            like $headers->{'content-type'}, qr{\Aapplication/json}, "GET /api/v1$path is JSON";
        }
    };

    subtest 'storage ping' => sub {
        my ($status, $body, undef, $raw) = $srv->request(GET => '/mongodb');
        is $status, 200, 'GET /mongodb answers 200 when the storage answers';
        is $raw, '"Pong"', 'GET /mongodb answers the JSON string Pong';
    };

    subtest 'health' => sub {
        my ($status, $body) = $srv->request(GET => '/health');
        is $status, 200, 'GET /health answers 200';
        is $body->{status}, 'ok', 'health status is ok';
        is $body->{storage}, $srv->storage_name, 'health names the storage backend';
        ok defined $body->{version} && length $body->{version}, 'health carries a version';
    };

    subtest 'openapi document' => sub {
        my ($status, $doc) = $srv->request(GET => '/openapi.json');
        is $status, 200, 'GET /api/v1/openapi.json answers 200' or return;
        like $doc->{openapi} // '', qr/\A3\.1\./, 'document is OpenAPI 3.1';
        for my $operation (@operations) {
            my ($method, $path, $name) = @$operation;
            my $entry = $doc->{paths}{$path}{ lc $method };
            is $entry && $entry->{operationId}, operation_id($method, $path, $name), "operationId of $method $path";
        }
    };

    subtest 'documentation pages' => sub {
        for my $page ('/docs', '/redoc') {
            my ($status, undef, $headers, $html) = $srv->request(GET => $page, raw_path => 1);
            is $status, 200, "GET $page answers 200";
            like $headers->{'content-type'} // '', qr{\Atext/html}, "$page is HTML";
            my @sources = $html =~ /<script[^>]+src\s*=\s*["']([^"']+)["']/gi;
            my @styles = $html =~ /<link[^>]+href\s*=\s*["']([^"']+\.css[^"']*)["']/gi;
            ok scalar(@sources), "$page loads a script";
            for my $source (@sources, @styles) {
                unlike $source, qr{\A(?:https?:)?//}, "$page loads $source from Kairos itself";
                next if $source =~ m{\A(?:https?:)?//};
                my $path = $source =~ m{\A/} ? $source : "/$source";
                my ($asset_status) = $srv->request(GET => $path, raw_path => 1);
                is $asset_status, 200, "$page asset $path is served";
            }
        }
    };
});

# A MongoDB URI on a loopback port where nothing listens: the server starts,
# and its health routes report the storage as down.
subtest 'storage that does not answer' => sub {
    my $port = free_port();
    my $srv = start_server(storage => "mongodb://127.0.0.1:$port/kairos_down?serverSelectionTimeoutMS=300&connectTimeoutMS=300");

    my ($status, $body) = $srv->request(GET => '/health');
    is $status, 503, 'GET /health answers 503';
    is $body->{status}, 'degraded', 'health status is degraded';
    is $body->{storage}, 'mongodb', 'health names the storage backend';

    my ($ping_status, $ping) = $srv->request(GET => '/mongodb');
    is $ping_status, 503, 'GET /mongodb answers 503';
    ok ref $ping eq 'HASH' && defined $ping->{detail}, 'the 503 body has a detail';

    my ($register_status) = $srv->request(POST => '/users/register',
        json => { email => 'down@example.com', name => 'Down', password => 'long-enough' });
    is $register_status, 503, 'a route that needs the storage answers 503, not 500';
    is $srv->stop, 0, 'server exits 0 on SIGTERM';
};

done_testing;
