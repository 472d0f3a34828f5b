# Login, refresh-token rotation and the checks on access tokens.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Digest::SHA qw(hmac_sha256 hmac_sha512);
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Test::More;
use KairosTest qw(for_each_backend jwt_claims unique_email);

sub base64url {
    my ($bytes) = @_;
    (my $text = encode_base64($bytes, '')) =~ tr{+/}{-_};
    $text =~ s/=+\z//;
    return $text;
}

# Builds a JWT with the given header algorithm, claims and key.
sub make_jwt {
    my ($alg, $claims, $key) = @_;
    my $json = JSON::PP->new->canonical;
    my $signing_input = base64url($json->encode({ alg => $alg, typ => 'JWT' })) . '.' . base64url($json->encode($claims));
    my $signature = $alg eq 'HS256' ? hmac_sha256($signing_input, $key)
                  : $alg eq 'HS512' ? hmac_sha512($signing_input, $key)
                  :                   '';
    return $signing_input . '.' . base64url($signature);
}

sub access_claims {
    my ($user_id, %over) = @_;
    my $now = time;
    return { sub => $user_id, iat => $now - 60, exp => $now + 600, scope => 'access',
             jti => sprintf('%024x', int rand 2**31), %over };
}

# Asserts a 401 with the given detail and WWW-Authenticate: Bearer.
sub is_unauthorized {
    my ($name, $detail, $status, $body, $headers) = @_;
    subtest $name => sub {
        is $status, 401, 'status is 401';
        is $body && $body->{detail}, $detail, "detail is '$detail'";
        like $headers->{'www-authenticate'} // '', qr/\ABearer\b/, 'WWW-Authenticate is Bearer';
    };
}

# Builds a multipart/form-data body as a browser's FormData does.
sub multipart {
    my (%fields) = @_;
    my $boundary = '----WebKitFormBoundary' . join '', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[rand 62] } 1 .. 16;
    my $body = '';
    for my $name (sort keys %fields) {
        $body .= "--$boundary\r\nContent-Disposition: form-data; name=\"$name\"\r\n\r\n$fields{$name}\r\n";
    }
    $body .= "--$boundary--\r\n";
    return ($body, "multipart/form-data; boundary=$boundary");
}

for_each_backend(sub {
    my ($srv) = @_;
    my $email = unique_email('login');
    my $password = 'saddle-bags-2026';
    my ($register_status) = $srv->register(email => $email, name => 'Login Rider', password => $password);
    is $register_status, 201, 'register the rider for the auth tests';

    subtest 'login with a form' => sub {
        my ($status, $body) = $srv->request(POST => '/auth/token', form => [
            grant_type => 'password', username => $email, password => $password,
            scope => '', client_id => '', client_secret => '',
        ]);
        is $status, 200, 'login answers 200';
        is $body->{token_type}, 'bearer', 'token_type is bearer';
        is jwt_claims($body->{access_token})->{scope}, 'access', 'access_token has the access scope';
        is jwt_claims($body->{refresh_token})->{scope}, 'refresh', 'refresh_token has the refresh scope';
        my ($me_status, $me) = $srv->request(GET => '/users/me', token => $body->{access_token});
        is $me_status, 200, 'the access token opens /users/me';
        is $me->{email}, $email, '/users/me is the logged-in rider';
    };

    subtest 'login failures' => sub {
        my ($wrong_status, $wrong) = $srv->login($email, 'not-the-password');
        my ($unknown_status, $unknown) = $srv->login(unique_email('nobody'), $password);
        is $wrong_status, 400, 'wrong password answers 400';
        is $unknown_status, 400, 'unknown email answers 400';
        is $wrong->{detail}, 'Incorrect username or password', 'wrong password detail';
        is_deeply $unknown, $wrong, 'unknown email and wrong password answer the same body';

        my ($no_password, $body) = $srv->request(POST => '/auth/token', form => [username => $email]);
        is $no_password, 422, 'missing password answers 422';
        is_deeply $body->{detail}[0]{loc}, ['body', 'password'], 'loc names the missing password';
        my ($no_username, $body2) = $srv->request(POST => '/auth/token', form => [password => $password]);
        is $no_username, 422, 'missing username answers 422';
        is_deeply $body2->{detail}[0]{loc}, ['body', 'username'], 'loc names the missing username';
    };

    subtest 'login rejects odd usernames' => sub {
        # An encoded NUL must not cut the username down to a registered email.
        my ($nul_status, $nul) = $srv->request(POST => '/auth/token', body => "username=$email%00junk&password=$password",
            type => 'application/x-www-form-urlencoded');
        is $nul_status, 422, 'username with an encoded NUL answers 422';
        is_deeply $nul->{detail}[0]{loc}, ['body', 'username'], 'loc names the username';

        my ($multipart_status) = $srv->request(POST => '/auth/token', type => 'multipart/form-data; boundary=b',
            body => "--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\n$email\0junk\r\n"
                . "--b\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n$password\r\n--b--\r\n");
        is $multipart_status, 422, 'multipart username with a NUL byte answers 422';

        my ($utf8_status, $utf8) = $srv->request(POST => '/auth/token', body => "username=%FF$email&password=$password",
            type => 'application/x-www-form-urlencoded');
        is $utf8_status, 400, 'username that is not UTF-8 answers 400';
        is $utf8->{detail}, 'Incorrect username or password', 'username that is not UTF-8 detail';
    };

    subtest 'refresh in every encoding the clients send' => sub {
        my (undef, $tokens) = $srv->login($email, $password);
        my $refresh = $tokens->{refresh_token};
        my @encodings = (
            ['query string' => sub { $srv->request(POST => '/auth/refresh?' . $srv->query_string(refresh_token => $_[0])) }],
            ['urlencoded form' => sub { $srv->request(POST => '/auth/refresh', form => [refresh_token => $_[0]]) }],
            ['multipart form' => sub {
                my ($body, $type) = multipart(refresh_token => $_[0]);
                $srv->request(POST => '/auth/refresh', body => $body, type => $type);
            }],
            ['JSON body' => sub { $srv->request(POST => '/auth/refresh', json => { refresh_token => $_[0] }) }],
        );
        for my $encoding (@encodings) {
            my ($name, $send) = @$encoding;
            my ($status, $body) = $send->($refresh);
            is $status, 200, "refresh from a $name answers 200";
            ok $body->{access_token} && $body->{refresh_token}, "refresh from a $name returns both tokens";
            is $body->{token_type}, 'bearer', "refresh from a $name: token_type is bearer";
            isnt $body->{refresh_token}, $refresh, "refresh from a $name rotates the refresh token";
            my ($me_status) = $srv->request(GET => '/users/me', token => $body->{access_token});
            is $me_status, 200, "access token from a $name refresh works";
            $refresh = $body->{refresh_token} if $status == 200;
        }
    };

    subtest 'refresh failures' => sub {
        my ($missing, $body) = $srv->request(POST => '/auth/refresh');
        ok $missing == 422 || $missing == 401, 'refresh without a token is refused';
        my ($status, $garbage, $headers) = $srv->request(POST => '/auth/refresh', json => { refresh_token => 'not.a.token' });
        is $status, 401, 'garbage refresh token answers 401';
        is $garbage->{detail}, 'Invalid refresh token', 'garbage refresh token detail';

        my (undef, $tokens) = $srv->login($email, $password);
        my ($access_status, $access_body) = $srv->request(POST => '/auth/refresh',
            json => { refresh_token => $tokens->{access_token} });
        is $access_status, 401, 'access token used as a refresh token answers 401';
        is $access_body->{detail}, 'Invalid refresh token', 'access token as refresh token detail';
    };

    subtest 'rotation revokes a replayed family' => sub {
        my (undef, $first) = $srv->login($email, $password);
        my (undef, $other) = $srv->login($email, $password);
        my ($status, $second) = $srv->request(POST => '/auth/refresh', json => { refresh_token => $first->{refresh_token} });
        is $status, 200, 'first refresh answers 200';

        my ($replay_status) = $srv->request(POST => '/auth/refresh', json => { refresh_token => $first->{refresh_token} });
        is $replay_status, 401, 'rotated refresh token is refused';
        my ($newest_status) = $srv->request(POST => '/auth/refresh', json => { refresh_token => $second->{refresh_token} });
        is $newest_status, 401, 'newest token of the replayed family is refused too';

        my ($other_status) = $srv->request(POST => '/auth/refresh', json => { refresh_token => $other->{refresh_token} });
        is $other_status, 200, 'refresh token of another login still works';
    };

    # An account of the old backend: its password is a passlib bcrypt hash, set
    # here in the SpatiaLite file as a migration would leave it.
    subtest 'bcrypt hash from the old backend' => sub {
        plan skip_all => 'needs the SpatiaLite file and the sqlite3 command'
            unless $srv->storage_name eq 'spatialite' && system('sqlite3 -version >/dev/null 2>&1') == 0;
        my $old = unique_email('passlib');
        my ($status) = $srv->register(email => $old, name => 'Old Rider', password => 'placeholder-password');
        is $status, 201, 'the account exists';

        # passlib's documented example hash of "password".
        my $bcrypt = '$2b$12$GhvMmNVjRW29ulnudl.LbuAnUtN/LRfe1JsBm1Xu6LE3059z5Tr8m';
        my $db = $srv->{storage};
        my $stored = sub {
            my $hash = `sqlite3 '$db' "SELECT password_hash FROM users WHERE email = '$old'"`;
            chomp $hash;
            return $hash;
        };
        system('sqlite3', $db, "UPDATE users SET password_hash = '$bcrypt' WHERE email = '$old'") == 0
            or return fail('sqlite3 could not set the hash');
        is $stored->(), $bcrypt, 'the account has the bcrypt hash';

        my ($wrong) = $srv->login($old, 'not-the-password');
        is $wrong, 400, 'a wrong password is refused';
        is $stored->(), $bcrypt, 'a failed login keeps the bcrypt hash';

        my ($login, $tokens) = $srv->login($old, 'password');
        is $login, 200, 'the bcrypt password logs in';
        like $stored->(), qr/\A\$argon2id\$/, 'the login rehashed the password to Argon2id';
        my ($me) = $srv->request(GET => '/users/me', token => $tokens && $tokens->{access_token});
        is $me, 200, 'the access token of that login works';
        my ($again) = $srv->login($old, 'password');
        is $again, 200, 'the password still logs in after the rehash';
    };

    subtest 'access token checks' => sub {
        my (undef, $tokens) = $srv->login($email, $password);
        my $user_id = jwt_claims($tokens->{access_token})->{sub};

        is_unauthorized('missing Authorization header', 'Not authenticated',
            $srv->request(GET => '/users/me'));
        is_unauthorized('rejects a refresh token used as an access token', 'Could not validate credentials',
            $srv->request(GET => '/users/me', token => $tokens->{refresh_token}));
        is_unauthorized('rejects a token that is not a JWT', 'Could not validate credentials',
            $srv->request(GET => '/users/me', token => 'garbage'));
        is_unauthorized('another scheme is not authenticated', 'Not authenticated',
            $srv->request(GET => '/users/me', headers => { Authorization => 'Basic YTpi' }));
        is_unauthorized('rejects a Bearer header without a token', 'Could not validate credentials',
            $srv->request(GET => '/users/me', headers => { Authorization => 'Bearer' }));
        is_unauthorized('rejects a Bearer token with a space inside', 'Could not validate credentials',
            $srv->request(GET => '/users/me', headers => { Authorization => "Bearer $tokens->{access_token} extra" }));

        my $key = $srv->secret_key;
        # The digest of the password hash cannot be computed here, so it comes from a real token.
        my $pwd = jwt_claims($tokens->{access_token})->{pwd};
        ok defined $pwd && length $pwd, 'an access token carries a password digest';
        my ($good_status) = $srv->request(GET => '/users/me',
            token => make_jwt(HS256 => access_claims($user_id, pwd => $pwd), $key));
        is $good_status, 200, 'a token signed here with SECRET_KEY is accepted (control for the cases below)';

        is_unauthorized('rejects an access token without a password digest', 'Could not validate credentials',
            $srv->request(GET => '/users/me', token => make_jwt(HS256 => access_claims($user_id), $key)));
        is_unauthorized('rejects an access token for another password', 'Could not validate credentials',
            $srv->request(GET => '/users/me',
                token => make_jwt(HS256 => access_claims($user_id, pwd => 'A' x length($pwd // '')), $key)));
        is_unauthorized('rejects an expired access token', 'Access token has expired',
            $srv->request(GET => '/users/me',
                token => make_jwt(HS256 => access_claims($user_id, exp => time - 30, iat => time - 3600, pwd => $pwd),
                    $key)));
        is_unauthorized('rejects a token signed with another key', 'Could not validate credentials',
            $srv->request(GET => '/users/me', token => make_jwt(HS256 => access_claims($user_id), 'x' x 64)));
        is_unauthorized('rejects a token signed with HS512', 'Could not validate credentials',
            $srv->request(GET => '/users/me', token => make_jwt(HS512 => access_claims($user_id), $key)));
        is_unauthorized('rejects an unsigned token (alg none)', 'Could not validate credentials',
            $srv->request(GET => '/users/me', token => make_jwt(none => access_claims($user_id), $key)));
        is_unauthorized('rejects a token of another scope', 'Could not validate credentials',
            $srv->request(GET => '/users/me',
                token => make_jwt(HS256 => access_claims($user_id, scope => 'password_reset'), $key)));
        is_unauthorized('rejects a token of an unknown user', 'Could not validate credentials',
            $srv->request(GET => '/users/me',
                token => make_jwt(HS256 => access_claims('0123456789abcdef01234567'), $key)));
    };

    # Runs last: it leaves this client address over the login limit.
    subtest 'login rate limit' => sub {
        my ($status, $body, $headers);
        my $attempts = 0;
        while ($attempts < 60) {
            $attempts++;
            ($status, $body, $headers) = $srv->login(unique_email('guess'), 'wrong-password');
            last if $status == 429;
            is $status, 400, "bad login $attempts answers 400 under the limit" or last;
        }
        is $status, 429, 'many bad logins from one address answer 429';
        like $headers->{'retry-after'} // '', qr/\A[1-9][0-9]*\z/, '429 carries Retry-After in seconds';
        ok defined $body->{detail}, '429 body has a detail';
        note "429 after $attempts bad logins";
    };
});

done_testing;
