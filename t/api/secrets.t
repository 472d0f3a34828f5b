# After a whole account flow, the server log holds no password, no access or
# refresh token, no key and no full email address, and query strings that
# carry secrets are logged with their values redacted.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Test::More;
use KairosTest qw(for_each_backend unique_email);

for_each_backend(sub {
    my ($srv) = @_;
    my $email = unique_email('secretive');
    my $password = 'first-secret-pass-9041';
    my $new_password = 'second-secret-pass-7713';
    my @tokens;

    # The flow: register, verify, log in, refresh through the query string,
    # reset the password through the query string, log in again.
    my ($register_status) = $srv->register(email => $email, name => 'Secretive', password => $password);
    is $register_status, 201, 'register';
    my $verify_token = $srv->wait_mail_token(verify => $email);
    ok $verify_token, 'verification token from the mail';
    my ($verify_status) = $srv->request(GET => '/users/verify-email?' . $srv->query_string(token => $verify_token // ''));
    is $verify_status, 200, 'verify through the query string';

    my ($login_status, $login) = $srv->login($email, $password);
    is $login_status, 200, 'login';
    push @tokens, $login->{access_token}, $login->{refresh_token};
    my ($refresh_status, $refreshed) = $srv->request(POST => '/auth/refresh?'
        . $srv->query_string(refresh_token => $login->{refresh_token}));
    is $refresh_status, 200, 'refresh through the query string';
    push @tokens, $refreshed->{access_token}, $refreshed->{refresh_token};
    my ($me_status) = $srv->request(GET => '/users/me', token => $refreshed->{access_token});
    is $me_status, 200, 'use the access token';
    my ($bad_status) = $srv->request(GET => '/users/me', token => $refreshed->{refresh_token});
    is $bad_status, 401, 'send a refresh token where an access token belongs';

    my ($reset_status) = $srv->request(POST => '/users/reset-password?' . $srv->query_string(email => $email));
    is $reset_status, 202, 'ask for a password reset';
    my $reset_token = $srv->wait_mail_token(reset => $email);
    ok $reset_token, 'reset token from the mail';
    my ($update_status) = $srv->request(POST => '/users/update-password?'
        . $srv->query_string(token => $reset_token // '', new_password => $new_password));
    is $update_status, 200, 'update the password through the query string';
    my ($wrong_status) = $srv->login($email, $password);
    is $wrong_status, 400, 'log in with the old password';
    my ($relogin_status, $relogin) = $srv->login($email, $new_password);
    is $relogin_status, 200, 'log in with the new password';
    push @tokens, $relogin->{access_token}, $relogin->{refresh_token};

    # Let the mail sender finish its lines before the log is read.
    $srv->wait_log(qr/\Q$reset_token\E/, 5) if $reset_token;
    my @lines = split /\n/, $srv->log_text;
    ok scalar(@lines), 'the server wrote a log';

    # Asserts that no line matches $pattern, and shows the lines that do.
    my $no_line_holds = sub {
        my ($pattern, $name, @searched) = @_;
        @searched = @lines unless @searched;
        my @holding = grep { /$pattern/ } @searched;
        is scalar(@holding), 0, $name or diag join "\n", @holding;
    };

    subtest 'no secret in the log' => sub {
        $no_line_holds->(qr/\Q$password\E/, 'no old password');
        $no_line_holds->(qr/\Q$new_password\E/, 'no new password');
        my $secret_key = $srv->secret_key;
        $no_line_holds->(qr/\Q$secret_key\E/i, 'no SECRET_KEY');
        for my $i (0 .. $#tokens) {
            my $token = $tokens[$i] // next;
            my $kind = $i % 2 ? 'refresh' : 'access';
            my ($signature) = $token =~ /\.([^.]+)\z/;
            $no_line_holds->(qr/\Q$signature\E/, "no $kind token " . ($i >> 1)) if $signature;
        }

        # The mail log transport writes the whole message, recipient and link
        # included, by design; every other line must keep the address out.
        my @outside_mail = grep { !m{/(?:verify|reset-password)\?token=} } @lines;
        (my $encoded_email = $srv->query_string(email => $email)) =~ s/\Aemail=//;
        $no_line_holds->(qr/\Q$email\E|\Q$encoded_email\E/i, 'no email address outside the mail lines', @outside_mail);
    };

    subtest 'mail tokens appear only in their mail' => sub {
        for my $token (grep { defined } $verify_token, $reset_token) {
            my @holding = grep { /\Q$token\E/ } @lines;
            ok scalar(@holding), 'the mail line holds the token';
            my @elsewhere = grep { !m{/(?:verify|reset-password)\?token=\Q$token\E} } @holding;
            is scalar(@elsewhere), 0, 'no other line holds it' or diag join "\n", @elsewhere;
        }
    };

    subtest 'secret query values are redacted in the access log' => sub {
        for my $case (['/users/verify-email', 'token'], ['/auth/refresh', 'refresh_token'],
                      ['/users/update-password', 'token'], ['/users/update-password', 'new_password']) {
            my ($path, $name) = @$case;
            my @access = grep { m{/api/v1\Q$path\E\?} } @lines;
            ok scalar(@access), "an access log line for $path with its query" or next;
            for my $line (@access) {
                like $line, qr/[?&]\Q$name\E=(?![A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.)[^&\s]*/,
                    "$path: $name is logged without its value";
            }
        }
        my @reset = grep { m{/api/v1/users/reset-password\?} } @lines;
        ok scalar(@reset), 'an access log line for the reset request';
    };
});

done_testing;
